//! "Did you mean ...?" hints for names a user mistyped.

/// Edit distance between two short names: insertions, deletions, substitutions and swaps of
/// neighbouring characters each count 1 (optimal string alignment).
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// Names longer than this get no hint: no name is that long, and the distance takes time
/// and memory in proportion to the length (a plugin may pass a string of any size).
const LONGEST_NAME: usize = 256;

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    if word.len() > LONGEST_NAME {
        return None;
    }
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (distance(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// A name from a rule or plugin as a message quotes it: whole up to 80 characters, else its
/// start and its size, so that a huge string cannot make a huge message.
pub fn shown(word: &str) -> std::borrow::Cow<'_, str> {
    match word.char_indices().nth(80) {
        None => word.into(),
        Some((end, _)) => format!("{}… ({} bytes)", &word[..end], word.len()).into(),
    }
}

/// `" (did you mean 'x'?)"`, or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match closest(word, candidates) {
        Some(c) => format!(" (did you mean '{c}'?)"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_words_get_no_hint_and_are_shown_short() {
        let huge = "m".repeat(10_000_000);
        assert_eq!(closest(&huge, ["margin", "revenue"]), None);
        assert_eq!(shown("margin"), "margin");
        let s = shown(&huge);
        assert!(
            s.starts_with(&"m".repeat(80)) && s.ends_with("… (10000000 bytes)"),
            "{s}"
        );
        assert_eq!(
            shown(&"я".repeat(81)).chars().count(),
            80 + "… (162 bytes)".chars().count()
        );
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(distance("gaet", "gate"), 1);
        assert_eq!(closest("totl", ["total", "lines", "cap"]), Some("total"));
        assert_eq!(closest("margn", ["margin", "revenue"]), Some("margin"));
        assert_eq!(closest("xyz", ["margin", "revenue"]), None);
        assert_eq!(
            did_you_mean("gaet", ["gate", "cap"]),
            " (did you mean 'gate'?)"
        );
    }
}
