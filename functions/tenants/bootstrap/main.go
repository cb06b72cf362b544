// Command bootstrap is the tenants Lambda (provided.al2023).
package main

import (
	"github.com/pvetenant/backend/functions/tenants"
	"github.com/pvetenant/backend/shared/lambdahttp"
	"github.com/pvetenant/backend/shared/setup"
)

func main() {
	lambdahttp.Start(tenants.New(setup.MustLoad(tenants.Needs)))
}
