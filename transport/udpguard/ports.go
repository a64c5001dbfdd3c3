package udpguard

// highServicePorts lists UDP services above 1023 that answer datagrams on
// their own and are known reflectors; a reply to them could bounce back.
var highServicePorts = [...]uint16{
	1900,  // SSDP
	3283,  // Apple Remote Desktop
	3478,  // STUN
	3702,  // WS-Discovery
	5353,  // mDNS
	5683,  // CoAP
	11211, // memcached
}

// ServicePort reports whether a datagram from port p may come from a
// service rather than a client. Clients send from ephemeral ports; all of
// 0-1023 is reserved for services, so none of it is answered.
func ServicePort(p uint16) bool {
	if p < 1024 {
		return true
	}
	for _, s := range highServicePorts {
		if p == s {
			return true
		}
	}
	return false
}
