// Package firmwarebridge will hold the serial side of the agent: the
// console for driving the agent over a UART when the network is down, and
// the link that carries a microcontroller's lines or frames to MQTT.
package firmwarebridge
