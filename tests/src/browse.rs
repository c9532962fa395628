//! A scriptable "browser" that approves authorization requests.

use std::time::Duration;

use reqwest::header::LOCATION;
use reqwest::redirect::Policy;

fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

fn location(resp: &reqwest::Response, base: &url::Url) -> Result<String, String> {
    let loc = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| format!("{} without a Location header", resp.status()))?;
    base.join(loc)
        .map(|u| u.to_string())
        .map_err(|e| format!("bad Location {loc}: {e}"))
}

/// Find `name="NAME" value="..."` in our own consent page.
fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

fn form_action(html: &str) -> Option<String> {
    let form = html.find("<form")?;
    let marker = "action=\"";
    let start = html[form..].find(marker)? + form + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&amp;", "&"))
}

/// Act as the user's browser: GET the authorization URL without following redirects.
/// On a 302/303 return its Location (the redirect URL with code/state or error); on a 200
/// consent page, press Approve and return that Location. Anything else is an error.
pub async fn browse(authorization_url: &str) -> Result<String, String> {
    let http = client()?;
    let url = url::Url::parse(authorization_url)
        .map_err(|e| format!("bad authorization URL {authorization_url}: {e}"))?;
    let resp = http
        .get(url.clone())
        .send()
        .await
        .map_err(|e| format!("GET {url} failed: {e}"))?;
    let status = resp.status();
    if status.is_redirection() {
        return location(&resp, &url);
    }
    if status != reqwest::StatusCode::OK {
        let body = resp.text().await.unwrap_or_default();
        return Err(format!("GET {url}: {status}: {body}"));
    }
    let html = resp
        .text()
        .await
        .map_err(|e| format!("cannot read the consent page: {e}"))?;
    let (Some(action), Some(id)) = (form_action(&html), hidden_value(&html, "request_id")) else {
        return Err(format!("GET {url}: 200 but no consent form found"));
    };
    let action = url
        .join(&action)
        .map_err(|e| format!("bad form action {action}: {e}"))?;
    let resp = http
        .post(action.clone())
        .form(&[("request_id", id.as_str()), ("decision", "approve")])
        .send()
        .await
        .map_err(|e| format!("POST {action} failed: {e}"))?;
    if resp.status().is_redirection() {
        location(&resp, &action)
    } else {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        Err(format!("POST {action}: {status}: {body}"))
    }
}

/// `browse`, then GET the redirect URL (the client's callback); returns its status.
pub async fn browse_and_deliver(authorization_url: &str) -> Result<(String, u16), String> {
    let redirect = browse(authorization_url).await?;
    let http = client()?;
    let resp = http
        .get(&redirect)
        .send()
        .await
        .map_err(|e| format!("GET {redirect} failed: {e}"))?;
    Ok((redirect, resp.status().as_u16()))
}
