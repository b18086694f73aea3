// Package httpapi is the local HTTP/JSON API that a supertracker node serves
// on --api (127.0.0.1 by default) for desktop apps, scripts and the CLI:
// paths, request and response types, and a Go client. Of supertracker's
// packages it imports only election, whose Status it reports.
//
// Endpoints (every body is JSON; errors are {"error": "..."} with a 4xx/5xx):
//
//	GET  /v1/status                 → Status
//	POST /v1/announce   AnnounceRequest → AnnounceResponse   (leaf)
//	POST /v1/withdraw   AnnounceRequest → AnnounceResponse   (leaf)
//	GET  /v1/objects                → ObjectsResponse        (leaf: what it announced)
//	GET  /v1/lookup?cid=C[&limit=N] → LookupResponse         (leaf and supernode)
//
// A caller's loop:
//
//	c := httpapi.NewClient("127.0.0.1:5001")
//	if _, err := c.Announce(ctx, []string{cidStr}); err != nil { … }
//	res, err := c.Lookup(ctx, cidStr, 0)
//	for _, h := range res.Holders { fmt.Println(h.Addrs[0]) }
package httpapi
