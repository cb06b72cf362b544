// Command bootstrap is the proxmox-servers Lambda (provided.al2023).
package main

import (
	proxmoxservers "github.com/pvetenant/backend/functions/proxmox-servers"
	"github.com/pvetenant/backend/shared/lambdahttp"
	"github.com/pvetenant/backend/shared/setup"
)

func main() {
	lambdahttp.Start(proxmoxservers.New(setup.MustLoad(proxmoxservers.Needs)))
}
