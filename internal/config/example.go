package config

import (
	"fmt"
	"strings"
)

// Example renders .env.example: every variable with its default and help.
func Example() string {
	var b strings.Builder
	b.WriteString("# dozor configuration. Copy to .env and edit; real environment variables win.\n")
	b.WriteString("# Secrets (marked) can also be read from a file named by NAME_FILE.\n")
	for _, v := range vars {
		fmt.Fprintf(&b, "\n# %s\n", v.Help)
		if v.Secret {
			b.WriteString("# (secret)\n")
		}
		fmt.Fprintf(&b, "%s=%s\n", v.Name, v.Default)
	}
	return b.String()
}
