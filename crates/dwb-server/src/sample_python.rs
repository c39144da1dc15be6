//! The ready-to-run Python script of a service account: only `requests`,
//! a token fetched the way Data Workbench clients do, then the account's
//! data sets listed and the first one queried.

use uuid::Uuid;

/// What the script needs; `secret` is embedded only while it is on screen.
pub struct Sample<'a> {
    pub public_url: &'a str,
    pub workspace_id: Uuid,
    pub client_id: Uuid,
    pub api_key: &'a str,
    pub secret: Option<&'a str>,
    pub account_name: &'a str,
}

/// A Python string literal (JSON strings are valid Python strings).
fn py(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The file name offered for download.
pub fn file_name(account_name: &str) -> String {
    let slug: String = account_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let slug = slug.trim_matches('_');
    format!(
        "dwb_{}.py",
        if slug.is_empty() {
            "service_account"
        } else {
            slug
        }
    )
}

pub fn render(s: &Sample<'_>) -> String {
    let secret_line = match s.secret {
        Some(secret) => format!(
            "# The service account secret is written below. Keep this file private.\nCLIENT_SECRET = os.environ.get(\"DWB_CLIENT_SECRET\") or {}\n",
            py(secret)
        ),
        None => "# The service account secret is NOT in this file: set the environment variable\n# DWB_CLIENT_SECRET to it before running, e.g.  DWB_CLIENT_SECRET=... python3 this_file.py\nCLIENT_SECRET = os.environ.get(\"DWB_CLIENT_SECRET\", \"\")\n".to_string(),
    };
    format!(
        r#"#!/usr/bin/env python3
"""Sample client for the dwb (Data Workbench) API, service account {name}.

Run:  python3 {file}   (needs: pip install requests)
{secret_note}
It gets an access token, lists the data sets this account can see and
queries the first one.
"""
import json
import os
import sys

import requests

TOKEN_URL = {token_url}
BASE_URL = {base_url}  # the API base; the endpoints base URL is BASE_URL/workspaces/WORKSPACE_ID
WORKSPACE_ID = {ws}
CLIENT_ID = {client_id}  # the service account ID
API_KEY = {api_key}  # sent as Ocp-Apim-Subscription-Key
RESOURCE = "https://dnvglb2cprod.onmicrosoft.com/83054ebf-1d7b-43f5-82ad-b2bde84d7b75"
{secret_line}

def fail(message):
    print("error: " + message, file=sys.stderr)
    sys.exit(1)


def check(response, what):
    if response.status_code == 401:
        fail(what + " was refused (401): " + response.text
             + "\nThe secret or API key may be wrong, expired or regenerated. Regenerate the secret in the API management tab.")
    if response.status_code == 403:
        fail(what + " is not allowed for this service account (403): " + response.text)
    if response.status_code >= 400:
        fail(what + " failed with HTTP " + str(response.status_code) + ": " + response.text)


def get_token():
    if not CLIENT_SECRET:
        fail("the service account secret is missing: set the environment variable DWB_CLIENT_SECRET")
    body = {{
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "resource": RESOURCE,
        "grant_type": "client_credentials",
    }}
    response = requests.post(TOKEN_URL, data=body, timeout=30)
    check(response, "Getting a token")
    return response.json()["access_token"]


def main():
    try:
        token = get_token()
        headers = {{
            "Ocp-Apim-Subscription-Key": API_KEY,
            "Authorization": "Bearer " + token,
            "Content-Type": "application/json",
        }}
        response = requests.get(BASE_URL + "/workspaces/" + WORKSPACE_ID + "/datasets", headers=headers, timeout=30)
        check(response, "Listing data sets")
        datasets = response.json()
        print("Data sets this account can see:")
        for d in datasets:
            print("  " + d["id"] + "  " + d["name"])
        if not datasets:
            print("No data set is shared with this account yet.")
            return 0
        first = datasets[0]
        query = {{
            "pageIndex": 1,
            "pageSize": 10,
            # "columnFilter": ["Time", "Temperature"],
            # "queryFilters": [{{"column": "Sensor", "filterType": "Equals", "filterValues": ["Bridge"]}}],
            # "sorting": {{"column": "Time", "order": "Descending"}},
        }}
        url = BASE_URL + "/workspaces/" + WORKSPACE_ID + "/datasets/" + first["id"] + "/query"
        response = requests.post(url, headers=headers, json=query, timeout=60)
        check(response, "Querying " + first["name"])
        result = response.json()
        print("First rows of " + first["name"] + " (" + str(result["pagination"]["totalCount"]) + " rows in all):")
        for row in result["data"]:
            print(json.dumps(row))
        return 0
    except requests.exceptions.RequestException as e:
        fail("cannot reach " + BASE_URL + ": " + str(e))


if __name__ == "__main__":
    sys.exit(main())
"#,
        name = s.account_name.replace('"', "'"),
        file = file_name(s.account_name),
        secret_note = if s.secret.is_some() {
            "The secret is in this file: keep it private."
        } else {
            "Set DWB_CLIENT_SECRET to the service account secret before running."
        },
        token_url = py(&format!("{}/oauth2/token", s.public_url)),
        base_url = py(&format!("{}/api/v2", s.public_url)),
        ws = py(&s.workspace_id.to_string()),
        client_id = py(&s.client_id.to_string()),
        api_key = py(s.api_key),
        secret_line = secret_line,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_embedded_only_when_given() {
        let mut s = Sample {
            public_url: "http://h",
            workspace_id: Uuid::nil(),
            client_id: Uuid::nil(),
            api_key: "dwbk_x",
            secret: None,
            account_name: "Night \"job\"",
        };
        let without = render(&s);
        assert!(without.contains("DWB_CLIENT_SECRET") && !without.contains("dwbs_"));
        assert!(without.contains("TOKEN_URL = \"http://h/oauth2/token\""));
        s.secret = Some("dwbs_secret");
        assert!(render(&s).contains("\"dwbs_secret\""));
        assert_eq!(file_name("Night \"job\""), "dwb_night__job.py");
    }
}
