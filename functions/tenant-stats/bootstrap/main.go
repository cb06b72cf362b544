// Command bootstrap is the tenant-stats Lambda (provided.al2023).
package main

import (
	tenantstats "github.com/pvetenant/backend/functions/tenant-stats"
	"github.com/pvetenant/backend/shared/lambdahttp"
	"github.com/pvetenant/backend/shared/setup"
)

func main() {
	lambdahttp.Start(tenantstats.New(setup.MustLoad(tenantstats.Needs)))
}
