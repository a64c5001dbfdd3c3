package agent

import (
	"context"

	firmwarebridge "edge-agent/firmware-bridge"
)

// firmwareRx and firmwareTx are the bridge's topics under the device's.
const (
	firmwareRx = "firmware/rx"
	firmwareTx = "firmware/tx"
)

// serialService runs a port keeper: "binding" it only records the path,
// since a device that is not plugged in yet is waited for, not an error.
func serialService(name, envVar, path string, c counterSource, run func(context.Context) error) *service {
	addr := path
	if serialOff(path) {
		addr = Off
	}
	return &service{
		name: name, envVar: envVar, addr: addr, counters: c,
		bind: func(addr string) (string, func(context.Context) error, error) {
			return addr, run, nil
		},
	}
}

func (a *Agent) consoleService() *service {
	c := a.cfg.Console
	a.console = &firmwarebridge.Console{
		Port:     firmwarebridge.PortConfig{Path: c.Port, Baud: c.Baud},
		Password: c.Password,
		NoEcho:   !c.Echo,
		Prompt:   a.deviceID() + "> ",
		Banner:   "edge-agent " + Build().Version + " on " + a.deviceID() + " (type help)",
		Commands: a.consoleCommands(),
		OnChange: a.linkChanged,
		Logger:   a.log.With("service", "console"),
	}
	return serialService("console", Prefix+"_CONSOLE_PORT", c.Port, a.console, a.console.Run)
}

func (a *Agent) firmwareService() *service {
	c := a.cfg.Firmware
	a.firmware = &firmwarebridge.Link{
		Port:     firmwarebridge.PortConfig{Path: c.Port, Baud: c.Baud, DTR: c.DTR, RTS: c.RTS},
		Framing:  c.Framing,
		MaxFrame: c.MaxFrame,
		Publish: func(msg []byte) bool {
			// The bridge exists once the services are bound, before
			// any port is read.
			b := a.mqtt.bridge()
			return b != nil && b.Forward(firmwareRx, msg)
		},
		OnChange: a.linkChanged,
		Logger:   a.log.With("service", "firmware"),
	}
	return serialService("firmware", Prefix+"_FIRMWARE_PORT", c.Port, a.firmware, a.firmware.Run)
}

// linkChanged turns a port opening or vanishing into a serial_link event.
func (a *Agent) linkChanged(c firmwarebridge.LinkChange) {
	a.events.add("serial_link", c)
}
