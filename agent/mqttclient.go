package agent

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
)

// MQTTFile is a file an MQTT client reads, with the variable or flag that
// named it, so a message about the file says what to change.
type MQTTFile struct {
	Path string
	Name string // EDGE_MQTT_PASSWORD_FILE, --password-file, ...
}

// MQTTClientFiles are the files an MQTT client proves itself and checks its
// broker with. The agent's bridge and `edge-agent fleet` read them through
// Load, so one /etc/default/edge-agent serves both and both fail alike.
type MQTTClientFiles struct {
	Password MQTTFile // the broker password, one line
	CA       MQTTFile // PEM CA certificates; empty: the system's roots
	Cert     MQTTFile // PEM client certificate, with Key
	Key      MQTTFile // PEM private key of Cert
}

// MQTTFileError is a file of MQTTClientFiles that could not be used.
type MQTTFileError struct {
	Action string // "read" or "use"
	File   MQTTFile
	Err    error
}

func (e *MQTTFileError) Error() string {
	return fmt.Sprintf("mqtt: cannot %s %s (%s): %v", e.Action, e.File.Path, e.File.Name, e.Err)
}

func (e *MQTTFileError) Unwrap() error { return e.Err }

// ClientFiles names the files of c by their variables.
func (c MQTTConfig) ClientFiles() MQTTClientFiles {
	return MQTTClientFiles{
		Password: MQTTFile{c.PasswordFile, Prefix + "_MQTT_PASSWORD_FILE"},
		CA:       MQTTFile{c.CAFile, Prefix + "_MQTT_CA_FILE"},
		Cert:     MQTTFile{c.CertFile, Prefix + "_MQTT_CERT_FILE"},
		Key:      MQTTFile{c.KeyFile, Prefix + "_MQTT_KEY_FILE"},
	}
}

// Load reads the password (without its line end) and builds the TLS
// configuration: nil when neither a CA file nor a client certificate is
// named, so ssl:// and wss:// brokers are checked against the system's
// roots. Errors are *MQTTFileError.
func (f MQTTClientFiles) Load() (password string, t *tls.Config, err error) {
	if f.Password.Path != "" {
		pw, err := os.ReadFile(f.Password.Path)
		if err != nil {
			return "", nil, &MQTTFileError{Action: "read", File: f.Password, Err: err}
		}
		password = strings.TrimRight(string(pw), "\r\n")
	}
	if (f.Cert.Path == "") != (f.Key.Path == "") {
		named, other := f.Cert, f.Key
		if f.Cert.Path == "" {
			named, other = f.Key, f.Cert
		}
		return "", nil, &MQTTFileError{Action: "use", File: named, Err: fmt.Errorf("set %s too: a client certificate and its key go together", other.Name)}
	}
	if f.CA.Path == "" && f.Cert.Path == "" {
		return password, nil, nil
	}
	t = &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CA.Path != "" {
		pem, err := os.ReadFile(f.CA.Path)
		if err != nil {
			return "", nil, &MQTTFileError{Action: "read", File: f.CA, Err: err}
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return "", nil, &MQTTFileError{Action: "use", File: f.CA, Err: errors.New("no PEM certificate in it")}
		}
	}
	if f.Cert.Path != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert.Path, f.Key.Path)
		if err != nil {
			return "", nil, &MQTTFileError{Action: "use", File: f.Cert, Err: err}
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return password, t, nil
}
