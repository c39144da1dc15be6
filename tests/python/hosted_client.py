"""A client written like the hosted Data Workbench's examples: only `requests`
for the calls, plus PyJWT to check the token against the published keys.
The dwb test suite runs it with the two URLs (token and base) pointed at dwb;
nothing else differs from a script written for the hosted service."""
import os
import sys

import jwt  # PyJWT
import requests

TOKEN_URL = os.environ["DWB_TOKEN_URL"]
BASE_URL = os.environ["DWB_BASE_URL"]  # .../api/v2
CLIENT_ID = os.environ["DWB_CLIENT_ID"]
CLIENT_SECRET = os.environ["DWB_CLIENT_SECRET"]
API_KEY = os.environ["DWB_API_KEY"]
WORKSPACE_ID = os.environ["DWB_WORKSPACE_ID"]
RESOURCE = "https://dnvglb2cprod.onmicrosoft.com/83054ebf-1d7b-43f5-82ad-b2bde84d7b75"


def get_token():
    body = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "resource": RESOURCE,
        "grant_type": "client_credentials",
    }
    response = requests.post(TOKEN_URL, data=body, timeout=30)
    response.raise_for_status()
    return response.json()["access_token"]


def main():
    token = get_token()
    headers = {
        "Ocp-Apim-Subscription-Key": API_KEY,
        "Authorization": "Bearer " + token,
        "Content-Type": "application/json",
    }
    r = requests.get(f"{BASE_URL}/workspaces/{WORKSPACE_ID}", headers=headers, timeout=30)
    r.raise_for_status()
    workspace = r.json()
    assert workspace["id"] == WORKSPACE_ID, workspace
    print("workspace:", workspace["name"])

    # The token is a standard JWT: check it against the published JWK set.
    config = requests.get(os.environ["DWB_DISCOVERY_URL"], timeout=30).json()
    keys = jwt.PyJWKClient(config["jwks_uri"])
    signing_key = keys.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        signing_key.key,
        algorithms=["EdDSA"],
        audience=BASE_URL,
        issuer=config["issuer"],
    )
    assert claims["sub"] == CLIENT_ID, claims
    print("token verified for", claims["sub"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
