"""schemathesis hooks for scripts/fuzz.sh: sign in as the fuzzing user with a fresh access token.

Fuzzing reaches logout, session revocation and API-key rotation, which end the credential in
use (as they should), and as an admin it may promote another user and then disable or delete
itself. A fresh login (or, if the account is gone, a new account) keeps the run signed in.
"""
import itertools
import os

import requests
import schemathesis

BASE = os.environ["FUZZ_BASE_URL"]
USERNAME = os.environ["FUZZ_USERNAME"]
PASSWORD = os.environ["FUZZ_PASSWORD"]
_spare = itertools.count(1)
_current = [USERNAME]


def _login(username):
    return requests.post(f"{BASE}/api/auth/login", json={"username": username, "password": PASSWORD},
                         timeout=10)


@schemathesis.auth(refresh_interval=30, retry_on=[401])
class FuzzingUser:
    def get(self, case, context):
        r = _login(_current[0])
        while r.status_code != 200:
            # The account was disabled or deleted by a fuzzed admin request: carry on as a new one.
            _current[0] = f"{USERNAME}-{next(_spare)}"
            requests.post(f"{BASE}/api/auth/register", json={"username": _current[0], "password": PASSWORD},
                          timeout=10)
            r = _login(_current[0])
        return r.json()["access_token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
