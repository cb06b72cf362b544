// Command bootstrap is the list-vms Lambda (provided.al2023).
package main

import (
	listvms "github.com/pvetenant/backend/functions/list-vms"
	"github.com/pvetenant/backend/shared/lambdahttp"
	"github.com/pvetenant/backend/shared/setup"
)

func main() {
	lambdahttp.Start(listvms.New(setup.MustLoad(listvms.Needs)))
}
