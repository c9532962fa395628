#!/usr/bin/env python3
"""A non-interactive "browser" for the conformance runs, set as $BROWSER by conformance/adapter.

Called as `browse.py CALLBACK_PREFIX AUTHORIZATION_URL`. It GETs the authorization URL and
follows redirects (without consent pages: the conformance mock servers approve at once) until
one points at the CLI's loopback callback (a URL starting with CALLBACK_PREFIX), then requests
that URL, the way a browser lands on the callback page. Anything else ends it with a message
on stderr; the CLI then times out waiting for its callback, like a user who gave up.
"""
import sys
import urllib.error
import urllib.parse
import urllib.request

MAX_HOPS = 10
TIMEOUT_S = 15


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: browse.py CALLBACK_PREFIX AUTHORIZATION_URL", file=sys.stderr)
        return 2
    callback, url = sys.argv[1], sys.argv[2]
    opener = urllib.request.build_opener(NoRedirect)
    for _ in range(MAX_HOPS):
        if url.startswith(callback):
            try:
                with opener.open(url, timeout=TIMEOUT_S) as resp:
                    status = resp.status
            except urllib.error.HTTPError as e:
                status = e.code
            print(f"browse: the callback answered {status}", file=sys.stderr)
            return 0
        try:
            with opener.open(url, timeout=TIMEOUT_S) as resp:
                print(f"browse: {url} answered {resp.status} without a redirect", file=sys.stderr)
                return 1
        except urllib.error.HTTPError as e:
            location = e.headers.get("Location")
            if e.code not in (301, 302, 303, 307, 308) or not location:
                print(f"browse: {url} answered {e.code}", file=sys.stderr)
                return 1
            url = urllib.parse.urljoin(url, location)
    print(f"browse: more than {MAX_HOPS} redirects", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
