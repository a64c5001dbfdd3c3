// Package udpguard decides whether a UDP datagram deserves a reply.
//
// Every UDP service of the agent answers unauthenticated datagrams whose
// source address can be forged. Without a guard the agent can be used to
// reflect traffic at a victim, or two echo-like services can be made to
// answer each other forever. The guard refuses replies to well-known service
// ports and to the agent's own service ports, and limits replies per source
// address with a token bucket whose table has a fixed upper size.
package udpguard
