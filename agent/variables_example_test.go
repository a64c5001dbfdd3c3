package agent_test

import (
	"os"

	"edge-agent/agent"
)

func ExampleVariables() {
	vars := agent.Variables(agent.Config{})
	for _, v := range vars[:3] {
		os.Stdout.WriteString(v.Name + " default " + v.Default + "\n")
	}
	// Output:
	// EDGE_LOG_LEVEL default info
	// EDGE_LOG_FORMAT default text
	// EDGE_ECHO_ADDR default :8081
}
