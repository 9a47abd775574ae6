// Command roost is the Roost mail server and its admin tool.
package main

import (
	"os"

	"github.com/roost-mail/roost/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
