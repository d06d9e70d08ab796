//! Several Ollama servers (API.md, "Several Ollama servers"), without Spin: the list the
//! `ollama_urls` variable names, and the order in which servers are tried for a model.
//! Choosing needs what every instance shares (models per server, cooldowns, answers in
//! flight); the Spin side reads those and asks [`try_order`].

/// The Ollama servers the app may use, in the configured order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Servers(Vec<String>);

impl Servers {
    /// `ollama_urls` (comma-separated base URLs), or `ollama_url` alone when that is empty.
    /// Each is `http(s)://host[:port]`, kept without a trailing slash; a repeat is dropped.
    pub fn parse(ollama_urls: &str, ollama_url: &str) -> Result<Servers, String> {
        let listed: Vec<&str> = ollama_urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect();
        let listed = if listed.is_empty() {
            vec![ollama_url.trim()]
        } else {
            listed
        };
        let mut urls: Vec<String> = Vec::with_capacity(listed.len());
        for raw in listed {
            let url = raw.trim_end_matches('/');
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"))
                .ok_or_else(|| format!("{raw:?} must start with http:// or https://"))?;
            if rest.is_empty() || rest.contains('/') {
                return Err(format!(
                    "{raw:?} must be a base URL: scheme, host and port only"
                ));
            }
            if !urls.iter().any(|u| u.eq_ignore_ascii_case(url)) {
                urls.push(url.to_string());
            }
        }
        Ok(Servers(urls))
    }

    pub fn urls(&self) -> &[String] {
        &self.0
    }
}

/// What every instance knows of one server when a request for a model comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The server's model list (cached briefly) has the model.
    pub has_model: bool,
    /// A recent failure put it in its cooldown.
    pub cooling: bool,
    /// Answers running on it now, across every instance and replica.
    pub in_flight: u32,
}

/// The servers to try for a request, as indexes into `standings` (one per configured server,
/// in order): those that have the model and are not cooling down, fewest answers in flight
/// first, ties to the earlier server. Empty when none may answer.
pub fn try_order(standings: &[Standing]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..standings.len())
        .filter(|&i| standings[i].has_model && !standings[i].cooling)
        .collect();
    // A stable sort keeps the configured order among equals.
    order.sort_by_key(|&i| standings[i].in_flight);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_ollama_urls_else_ollama_url() {
        let one = Servers::parse("", "http://127.0.0.1:11434/").expect("valid");
        assert_eq!(one.urls(), ["http://127.0.0.1:11434"]);
        let many =
            Servers::parse(" http://a:1, https://b:2/ ,,http://A:1", "http://x").expect("valid");
        assert_eq!(many.urls(), ["http://a:1", "https://b:2"]);
        for bad in ["a:1", "http://", "http://a:1/api", "ftp://a"] {
            assert!(Servers::parse(bad, "http://x").is_err(), "{bad}");
        }
    }

    fn s(has_model: bool, cooling: bool, in_flight: u32) -> Standing {
        Standing {
            has_model,
            cooling,
            in_flight,
        }
    }

    #[test]
    fn the_least_busy_server_with_the_model_goes_first() {
        let table: [(&[Standing], &[usize]); 6] = [
            (&[s(true, false, 0), s(true, false, 0)], &[0, 1]),
            (&[s(true, false, 2), s(true, false, 1)], &[1, 0]),
            (&[s(false, false, 0), s(true, false, 5)], &[1]),
            (&[s(true, true, 0), s(true, false, 9)], &[1]),
            (
                &[s(true, false, 1), s(true, false, 0), s(true, false, 0)],
                &[1, 2, 0],
            ),
            (&[s(false, false, 0), s(true, true, 0)], &[]),
        ];
        for (standings, expected) in table {
            assert_eq!(try_order(standings), expected, "{standings:?}");
        }
    }
}
