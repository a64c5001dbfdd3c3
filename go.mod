module edge-agent

go 1.26.8

require (
	golang.org/x/sync v0.24.0
	golang.org/x/sys v0.49.0
)

require (
	github.com/beevik/ntp v1.6.0
	github.com/kelseyhightower/envconfig v1.4.0
)

require golang.org/x/net v0.59.0 // indirect
