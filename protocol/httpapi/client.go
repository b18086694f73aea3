package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrAPI is wrapped by every error the node's API answered with (as opposed
// to transport errors).
var ErrAPI = errors.New("api error")

// StatusError is an error the node's API answered with: the HTTP status
// (400 bad input, 501 not served by this role, 502 the overlay failed, 504
// timeout) and the error text. It matches ErrAPI with errors.Is.
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", ErrAPI, e.Code, e.Msg)
}

func (e *StatusError) Is(target error) bool { return target == ErrAPI }

// Client talks to a node's API.
type Client struct {
	base  string
	http  *http.Client
	token string
}

// NewClient returns a client for the API at hostport (or a full http:// URL).
func NewClient(hostport string) *Client {
	base := hostport
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		base = "http://" + base
	}
	return &Client{base: strings.TrimRight(base, "/"), http: &http.Client{Timeout: 60 * time.Second}}
}

// WithToken returns c sending "Authorization: Bearer token" (the node's
// --api-token) with every request; an empty token sends none.
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.token = token
	return &cp
}

// Status fetches GET /v1/status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	return &s, c.do(ctx, http.MethodGet, PathStatus, nil, &s)
}

// Announce asks the node to announce cids and waits until the overlay
// accepted them.
func (c *Client) Announce(ctx context.Context, cids []string) (*AnnounceResponse, error) {
	var r AnnounceResponse
	return &r, c.do(ctx, http.MethodPost, PathAnnounce, AnnounceRequest{CIDs: cids}, &r)
}

// Withdraw asks the node to stop announcing cids.
func (c *Client) Withdraw(ctx context.Context, cids []string) (*AnnounceResponse, error) {
	var r AnnounceResponse
	return &r, c.do(ctx, http.MethodPost, PathWithdraw, AnnounceRequest{CIDs: cids}, &r)
}

// Objects lists what the node announces.
func (c *Client) Objects(ctx context.Context) (*ObjectsResponse, error) {
	var r ObjectsResponse
	return &r, c.do(ctx, http.MethodGet, PathObjects, nil, &r)
}

// Lookup finds holders of cid; limit 0 means the node's default.
func (c *Client) Lookup(ctx context.Context, cid string, limit int) (*LookupResponse, error) {
	q := url.Values{"cid": {cid}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var r LookupResponse
	return &r, c.do(ctx, http.MethodGet, PathLookup+"?"+q.Encode(), nil, &r)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e Error
		msg := http.StatusText(resp.StatusCode)
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return &StatusError{Code: resp.StatusCode, Msg: msg}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding %s reply: %w", path, err)
	}
	return nil
}
