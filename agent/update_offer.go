package agent

import (
	"encoding/json"
	"errors"
	"fmt"

	"edge-agent/agent/internal/strictjson"
	"edge-agent/agent/update"
)

// offerTopic, under the device's base, holds the update on offer, as a
// retained message: what Home Assistant's install button installs in
// broker mode (EDGE_ACTIONS_AUTH=broker), and what it shows as the
// latest version.
const offerTopic = "update/offer"

// maxOffer bounds an offer message: four short fields.
const maxOffer = 4 << 10

// parseOffer reads an offer: {"version": V, "url": U, "size": N,
// "sha256": S}, every key once and no other, into the args of an update
// command (VERSION URL SIZE SHA256), which install checks as it checks a
// signed command's.
func parseOffer(data []byte) ([]string, error) {
	if len(data) > maxOffer {
		return nil, fmt.Errorf("offer: %d bytes, over the limit of %d", len(data), maxOffer)
	}
	args := make([]string, 4)
	index := map[string]int{"version": 0, "url": 1, "size": 2, "sha256": 3}
	err := strictjson.Object(data, func(key string, dec *json.Decoder) error {
		i, ok := index[key]
		if !ok {
			return fmt.Errorf("unknown key %.40q: an offer has version, url, size and sha256", key)
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("%s: %v", key, err)
		}
		switch v := v.(type) {
		case string:
			if key == "size" {
				return errors.New("size: a number of bytes, not a string")
			}
			args[i] = v
		case json.Number:
			if key != "size" {
				return fmt.Errorf("%s: a string, not a number", key)
			}
			args[i] = v.String()
		default:
			return fmt.Errorf("%s: a string (size: a number)", key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("offer: %w", err)
	}
	for key, i := range index {
		if args[i] == "" {
			return nil, fmt.Errorf("offer: no %s", key)
		}
	}
	return args, nil
}

// setOffer takes the offer topic's message: an empty one withdraws the
// offer, one that cannot be read is counted and ignored (the offer held
// stays).
func (u *updater) setOffer(payload []byte) {
	if len(payload) == 0 {
		u.offer.Store(nil)
		return
	}
	args, err := parseOffer(payload)
	if err == nil {
		_, _, err = parseUpdateArgs(args, int64(u.cfg.UpdateMaxSize))
	}
	if err != nil {
		u.badOffers.Add(1)
		u.log.Warn("ignoring the update offer", "topic", offerTopic, "err", err)
		return
	}
	u.offer.Store(&args)
}

// offered is the args of the update on offer, for install in broker
// mode, where the command carries none.
func (u *updater) offered() ([]string, error) {
	if p := u.offer.Load(); p != nil {
		return *p, nil
	}
	return nil, &update.Refusal{Reason: update.Malformed, Message: "no update on offer: publish {\"version\",\"url\",\"size\",\"sha256\"} retained on " + offerTopic + " under the device's topic"}
}
