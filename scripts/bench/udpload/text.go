package main

// textClient speaks the seed tutorial's strftime service: the request is a
// format, the reply that format applied to the server's local time. The
// reply carries nothing that identifies its request, so a reply that comes
// after its request timed out is taken for the next request's reply; the
// timeouts column shows how often that can have happened.
type textClient struct {
	format []byte
}

func (c *textClient) request(buf []byte) []byte {
	return append(buf[:0], c.format...)
}

func (c *textClient) judge(r []byte) verdict {
	if len(r) == 0 {
		return verdict{outcome: bad, reason: "empty reply"}
	}
	return verdict{outcome: answered}
}

func (c *textClient) describe(r []byte) string {
	if len(r) > 200 {
		return string(r[:200]) + "..."
	}
	return string(r)
}
