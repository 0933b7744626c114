//! TraceQL regex matching (`=~`, `!~`): fully anchored, compiled once per query, with a
//! vectorized path for the most common shape, `.*literal.*` (substring search).
//!
//! A substring pattern over a plain (not dictionary-encoded) string column is answered with
//! one `memmem` pass over the column's concatenated value bytes instead of one regex call per
//! value: a hit is mapped to its row through the offsets, and the search resumes at the next
//! row. A column with no match costs one SIMD scan of its bytes.

use arrow::array::{Array, BooleanArray, StringArray};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use memchr::memmem;

use super::error::ScanError;

/// Regex program size limit (hostile patterns fail to compile instead of exhausting memory).
const SIZE_LIMIT: usize = 1 << 20;

/// One compiled TraceQL regex.
#[derive(Debug)]
pub(crate) struct Matcher {
    regex: regex::Regex,
    /// `Some` when the pattern is `.*literal.*` with a non-empty, metacharacter-free literal.
    substring: Option<memmem::Finder<'static>>,
}

impl Matcher {
    pub(crate) fn new(pattern: &str) -> Result<Matcher, ScanError> {
        let regex = regex::RegexBuilder::new(&format!("^(?s:{pattern})$"))
            .size_limit(SIZE_LIMIT)
            .build()
            .map_err(|e| ScanError::InvalidRegex(e.to_string()))?;
        let substring = pattern
            .strip_prefix(".*")
            .and_then(|p| p.strip_suffix(".*"))
            .filter(|lit| !lit.is_empty() && !lit.contains(is_meta))
            .map(|lit| memmem::Finder::new(lit.as_bytes()).into_owned());
        Ok(Matcher { regex, substring })
    }

    pub(crate) fn is_match(&self, s: &str) -> bool {
        match &self.substring {
            Some(finder) => finder.find(s.as_bytes()).is_some(),
            None => self.regex.is_match(s),
        }
    }

    /// Per row of `strings`, whether it matches (`!= negate`); null rows are false. `None` when
    /// the pattern has no vectorized form (the caller matches value by value).
    // PERFORMANCE-CRITICAL: once per scanned batch of a free-text column.
    pub(crate) fn match_column(&self, strings: &StringArray, negate: bool) -> Option<BooleanArray> {
        let finder = self.substring.as_ref()?;
        let contains = contains_per_row(finder, strings);
        let values = if negate { !&contains } else { contains };
        let values = match strings.nulls() {
            Some(nulls) => &values & nulls.inner(),
            None => values,
        };
        Some(BooleanArray::new(values, None::<NullBuffer>))
    }
}

/// Characters with a meaning outside a character class (without the `x` flag, which needs
/// `(` to be set inline).
fn is_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$'
    )
}

/// Bit `i` set when row `i` contains the finder's needle.
fn contains_per_row(finder: &memmem::Finder<'_>, strings: &StringArray) -> BooleanBuffer {
    let rows = strings.len();
    let offsets = strings.value_offsets();
    let data = strings.value_data();
    let needle = finder.needle().len();
    let mut bits = vec![false; rows];
    let end = offsets[rows] as usize;
    let (mut pos, mut row) = (offsets[0] as usize, 0usize);
    while row < rows
        && let Some(hit) = finder.find(&data[pos..end])
    {
        let at = pos + hit;
        // The row holding byte `at`: the rows before it end at or before `at`.
        row += offsets[row + 1..=rows].partition_point(|&o| o as usize <= at);
        let row_end = offsets[row + 1] as usize;
        // The leftmost occurrence from the row's start crossing its end means no occurrence
        // lies inside the row.
        if at + needle <= row_end {
            bits[row] = true;
        }
        pos = row_end;
        row += 1;
    }
    BooleanBuffer::from(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(pattern: &str, values: &[Option<&str>], negate: bool) -> Vec<bool> {
        let re = regex::Regex::new(&format!("^(?s:{pattern})$")).expect("regex");
        values
            .iter()
            .map(|v| v.is_some_and(|s| re.is_match(s) != negate))
            .collect()
    }

    #[test]
    fn substring_patterns_are_recognised() {
        assert!(Matcher::new(".*abc.*").expect("ok").substring.is_some());
        assert!(
            Matcher::new(".*/api/v1-x_y.*")
                .expect("ok")
                .substring
                .is_some()
        );
        for not_literal in [
            ".*a.c.*", ".*(a).*", "abc", ".*abc", ".*.*", ".*a|b.*", ".*a+.*", ".*a\\d.*",
            ".*a{2}.*",
        ] {
            assert!(
                Matcher::new(not_literal).expect("ok").substring.is_none(),
                "{not_literal}"
            );
        }
        assert!(Matcher::new("(").is_err());
    }

    #[test]
    fn column_matching_agrees_with_the_regex() {
        let values: Vec<Option<&str>> = vec![
            Some("abc"),
            Some("xxab"),
            Some("cyy"),
            None,
            Some(""),
            Some("zzabcz"),
            Some("ab"),
            Some("c"),
            Some("abab"),
            Some("cabc"),
            Some("a\nabc\n"),
            Some("ab"),
        ];
        let strings = StringArray::from(values.clone());
        for pattern in [
            ".*abc.*", ".*ab.*", ".*c.*", ".*zz.*", ".*abab.*", ".*bca.*",
        ] {
            let m = Matcher::new(pattern).expect("ok");
            for negate in [false, true] {
                let got = m.match_column(&strings, negate).expect("vectorized");
                let got: Vec<bool> = got.iter().map(|v| v == Some(true)).collect();
                assert_eq!(
                    got,
                    reference(pattern, &values, negate),
                    "{pattern} {negate}"
                );
                // Slices (non-zero first offset) too.
                let sliced = strings.slice(2, 7);
                let got = m.match_column(&sliced, negate).expect("vectorized");
                let got: Vec<bool> = got.iter().map(|v| v == Some(true)).collect();
                assert_eq!(
                    got,
                    reference(pattern, &values[2..9], negate),
                    "{pattern} sliced"
                );
            }
            for v in values.iter().flatten() {
                assert_eq!(m.is_match(v), reference(pattern, &[Some(v)], false)[0]);
            }
        }
    }
}
