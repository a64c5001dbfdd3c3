// Package texttime is the agent's text time service (seed 002): a UDP
// datagram carries a strftime format, and the reply is the device's local
// time in that format, byte for byte what the seed tutorial's Python server
// (time.strftime on Linux/glibc) sends, so its client works unchanged.
//
// # Formatting
//
// AppendFormat follows glibc's strftime as Python 3 drives it: through
// wcsftime, with LC_TIME in the C locale and LC_CTYPE in a UTF-8 locale
// (Debian's default, and what Python switches to from the plain C locale).
// That covers the C99 and POSIX conversions, glibc's %k %l %P %s, the GNU
// flags - _ 0 ^ #, field widths and the E and O modifiers, each accepted
// only where glibc accepts it. Anything glibc does not know, a lone
// trailing %, and every other byte are copied as they are; widths count
// characters, not bytes, and ^ upper-cases a copied non-ASCII character as
// towupper does. The glibc quirks this implies (%:z and %+ are not
// conversions, %#Z is lower case, %5s pads with spaces, %OY is unknown but
// %Oy is not) are kept on purpose: the reference is what the seed server
// answers, not what a manual page promises.
//
// # Replies
//
// An empty datagram means %Y-%m-%d-%X, as in the seed. A request that is
// not valid UTF-8 or holds a NUL byte (the seed server would crash on
// either) gets a short reply starting "error: ".
//
// A reply is at most 64 + 4 × (request length) bytes and never more than
// 1,024 bytes, the seed client's recvfrom(1024). The first bound keeps a
// small datagram with a forged source address from buying a large reply
// aimed at someone else (%1000Y is six bytes); the second keeps the seed
// client from silently losing the end of a reply. A format whose result
// would be longer gets "error: reply would be longer than N bytes", N being
// the bound for that request, and costs no more than the bound to find out.
//
// Replies go only where a udpguard.Guard allows: never to service ports,
// at a limited rate per source. Query is the client side.
package texttime
