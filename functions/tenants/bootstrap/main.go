// Command bootstrap is the tenants Lambda (provided.al2023).
package main

import (
	"github.com/pvetenant/backend/functions/tenants"
	"github.com/pvetenant/backend/shared/lambdahttp"
	"github.com/pvetenant/backend/shared/runtime"
)

func main() {
	lambdahttp.Start(tenants.New(runtime.MustLoad(tenants.Needs)))
}
