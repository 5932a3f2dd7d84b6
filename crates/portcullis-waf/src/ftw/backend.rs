//! The backend behind the WAF in CRS's test set-up (albedo): `POST /reflect` answers with the
//! status, headers and body its JSON asks for; anything else is a small 200.

use serde::Deserialize;

use super::wire::Received;

/// A response.
pub struct Response {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// Body.
    pub body: Vec<u8>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Reflect {
    status: Option<u16>,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    body: Option<String>,
    encoded_body: Option<String>,
}

/// The backend's answer to `request`.
pub fn respond(request: &Received) -> Response {
    let path = request
        .head
        .target
        .split(|b| *b == b'?')
        .next()
        .unwrap_or(b"");
    if path == b"/reflect" {
        if let Ok(r) = serde_json::from_slice::<Reflect>(&request.body) {
            use base64::Engine as _;
            let body = match (r.body, r.encoded_body) {
                (_, Some(e)) => base64::engine::general_purpose::STANDARD
                    .decode(e.trim())
                    .unwrap_or_default(),
                (Some(b), None) => b.into_bytes(),
                (None, None) => Vec::new(),
            };
            let mut headers: Vec<(Vec<u8>, Vec<u8>)> = r
                .headers
                .into_iter()
                .map(|(k, v)| (k.into_bytes(), v.into_bytes()))
                .collect();
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(b"content-type"))
            {
                headers.push((
                    b"Content-Type".to_vec(),
                    b"text/plain; charset=utf-8".to_vec(),
                ));
            }
            return Response {
                status: r.status.unwrap_or(200),
                headers,
                body,
            };
        }
    }
    Response {
        status: 200,
        headers: vec![(
            b"Content-Type".to_vec(),
            b"text/plain; charset=utf-8".to_vec(),
        )],
        body: b"ok".to_vec(),
    }
}
