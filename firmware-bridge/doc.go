// Package firmwarebridge is the serial side of the agent: a Console for
// driving it over a UART or USB gadget serial when the network is down,
// and a Link that carries a microcontroller's lines or COBS frames to
// MQTT and back. Both keep their port open across unplugs (keeper), and
// the wire codecs (Editor, LineFramer, COBSFramer) are apart from I/O.
// ListPorts reads sysfs and never opens a device.
//
// What a Link takes for the microcontroller belongs to one opening of the
// port: written to it or counted as dropped, never to the next device.
// The Console takes line noise (a floating RX pin) for neither a login
// attempt nor a command.
package firmwarebridge
