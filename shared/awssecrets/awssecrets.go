// Package awssecrets reads the functions' sensitive settings from one AWS
// Secrets Manager secret (a JSON object of strings) at cold start, with the
// AWS SDK for Go v2. It builds the client from explicit options rather than
// config.LoadDefaultConfig: Lambda hands every function its region and role
// credentials as environment variables, so shared config files, SSO and IMDS
// lookups would only add start-up work and binary size.
package awssecrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
)

// Source is where the secret is and how to reach it.
type Source struct {
	ARN    string // SECRETS_ARN
	Region string // AWS_REGION (Lambda sets it)
	// Endpoint, when set, replaces AWS's (BaseEndpoint): a VPC endpoint, or
	// a local stand-in in tests (AWS_ENDPOINT_URL_SECRETS_MANAGER).
	Endpoint string
	// The function role's credentials (AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, set by Lambda).
	AccessKeyID, SecretAccessKey, SessionToken string
	HTTPClient                                 *http.Client // default: a client with a 5 s timeout
}

// Key is one setting wanted from the secret.
type Key struct {
	Name     string
	Required bool
}

// Error is a failure to read the secret. Its message names the secret and
// the key, never a value.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

// Fetch reads the secret and returns the wanted keys present in it, and only
// those: a function never holds a setting it does not need. A wanted key
// that is required and absent or empty is an error.
func Fetch(ctx context.Context, src Source, want []Key) (map[string]string, error) {
	if src.ARN == "" {
		return nil, &Error{"no secret named (SECRETS_ARN is empty)"}
	}
	if src.Region == "" {
		src.Region = regionOf(src.ARN)
	}
	hc := src.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	creds := aws.Credentials{AccessKeyID: src.AccessKeyID, SecretAccessKey: src.SecretAccessKey, SessionToken: src.SessionToken, Source: "environment"}
	opts := secretsmanager.Options{
		Region:           src.Region,
		HTTPClient:       hc,
		RetryMaxAttempts: 3, // the SDK's standard retryer: throttling and 5xx are retried with backoff
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
				return creds, errors.New("no AWS credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
			}
			return creds, nil
		}),
	}
	if src.Endpoint != "" {
		opts.BaseEndpoint = aws.String(src.Endpoint)
	}
	out, err := secretsmanager.New(opts).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(src.ARN)})
	if err != nil {
		return nil, &Error{fmt.Sprintf("secret %s could not be read: %s", src.ARN, describe(err))}
	}
	if out.SecretString == nil {
		return nil, &Error{fmt.Sprintf("secret %s has no SecretString: store the settings as a JSON object of strings", src.ARN)}
	}
	// Decode into raw values first: a JSON error message would quote the
	// secret's text, so it is never passed on.
	var all map[string]json.RawMessage
	if json.Unmarshal([]byte(*out.SecretString), &all) != nil || all == nil {
		return nil, &Error{fmt.Sprintf("secret %s is not a JSON object: store the settings as {\"KEY\": \"value\", ...}", src.ARN)}
	}
	got := map[string]string{}
	var missing []string
	for _, k := range want {
		raw, ok := all[k.Name]
		var v string
		if ok && json.Unmarshal(raw, &v) != nil {
			return nil, &Error{fmt.Sprintf("secret %s: key %s is not a string", src.ARN, k.Name)}
		}
		if v == "" {
			if k.Required {
				missing = append(missing, k.Name)
			}
			continue
		}
		got[k.Name] = v
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, &Error{fmt.Sprintf("secret %s has no value for %s", src.ARN, strings.Join(missing, ", "))}
	}
	return got, nil
}

// describe keeps an API error's code and message (they name the secret at
// most, never its value) and drops request ids and transport noise.
func describe(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode() + ": " + api.ErrorMessage()
	}
	return err.Error()
}

// regionOf takes the region from arn:aws:secretsmanager:<region>:...
func regionOf(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) > 3 && parts[0] == "arn" {
		return parts[3]
	}
	return ""
}
