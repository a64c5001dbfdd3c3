package broker

import (
	"testing"

	"edge-agent/transport/testenv"
)

// rawClient is testenv.RawMQTT as this package's tests call it: v5, set
// after dialling, picks MQTT 5 for connect.
type rawClient struct {
	*testenv.RawMQTT
	t  *testing.T
	v5 bool
}

// dialRaw connects with a small receive buffer when rcvbuf > 0, so a
// client that does not read holds up the broker's writes soon.
func dialRaw(t *testing.T, addr string, rcvbuf int) *rawClient {
	t.Helper()
	return &rawClient{RawMQTT: testenv.DialMQTT(t, addr, rcvbuf), t: t}
}

// connect sends CONNECT with keep-alive 0 (no deadline from the broker)
// and returns the CONNACK's reason code, or reads nothing when read is
// false.
func (rc *rawClient) connect(id, user, pass string, read bool) byte {
	rc.t.Helper()
	rc.Version = 4
	if rc.v5 {
		rc.Version = 5
	}
	if err := rc.Connect(id, user, pass); err != nil {
		rc.t.Fatal(err)
	}
	if !read {
		return 0
	}
	return rc.Connack()
}

func (rc *rawClient) subscribe(filter string, qos byte) {
	rc.t.Helper()
	if err := rc.Subscribe(filter, qos); err != nil {
		rc.t.Fatal(err)
	}
}
