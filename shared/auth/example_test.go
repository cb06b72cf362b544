package auth_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pvetenant/backend/shared/auth"
)

// A function verifies the bearer token the app sends (a Supabase access
// token) and acts as the user it names.
func ExampleVerifier_Verify() {
	secret := []byte("the-project-jwt-secret-at-least-32-bytes")
	v, err := auth.NewVerifier(auth.Config{JWTSecret: secret})
	if err != nil {
		panic(err)
	}
	token, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "6b0f1c52-1d4e-4c6f-9a5e-0f6d8f1b2a11", "role": "authenticated", "aud": "authenticated",
		"email": "alice@acme.test", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(secret)

	raw, ok := auth.BearerToken("Bearer " + token)
	if !ok {
		panic("no bearer token")
	}
	claims, err := v.Verify(context.Background(), raw)
	if err != nil {
		panic(err)
	}
	fmt.Println(claims.UserID, claims.Email, claims.Role)

	// An anon key is a valid JWT of the project, but no user: refused.
	anon, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"role": "anon", "iss": "supabase", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(secret)
	_, err = v.Verify(context.Background(), anon)
	fmt.Println(errors.Is(err, auth.ErrInvalidToken))
	// Output:
	// 6b0f1c52-1d4e-4c6f-9a5e-0f6d8f1b2a11 alice@acme.test authenticated
	// true
}
