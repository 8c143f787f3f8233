//! The rules that make every listing end: a ceiling on `count`, a page budget derived from
//! it, and no page URL fetched twice. Pure, so property tests can throw anything at it.

use std::collections::HashSet;

use reqwest::Url;

/// The largest `count` plotward believes. Far above any real account (the largest accounts
/// seen hold tens of thousands of files); a server claiming more is refused rather than
/// given memory and time in proportion to its claim.
pub(crate) const MAX_COUNT: usize = 1_000_000;

/// Pages followed beyond `ceil(count / page size)` before a listing is called endless: room
/// for files created while the listing runs.
pub(crate) const PAGE_MARGIN: usize = 2;

/// The fewest items a first page may hold while more remain. plotward asks for 500 (as the
/// documented recipes do); a server that pages by fewer could make a listing of
/// [`MAX_COUNT`] items take a million requests, so it is refused.
pub(crate) const MIN_PAGE_ITEMS: usize = 50;

/// Why a listing was stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PagingError {
    /// `count` above [`MAX_COUNT`].
    #[error(
        "the server claims {count} files, more than plotward's ceiling of {MAX_COUNT}; \
         refusing to list (a real account is far smaller)"
    )]
    CountTooLarge { count: usize },
    /// A `next` link named a page already fetched.
    #[error(
        "the server's `next` link `{0}` repeats a page already listed; the listing would never end"
    )]
    Repeated(String),
    /// More pages than the count allows.
    #[error(
        "the server sent more than {budget} pages for {count} files at {per_page} a page; \
         the listing would not end"
    )]
    TooManyPages {
        /// Pages allowed.
        budget: usize,
        count: usize,
        /// Items on the first page.
        per_page: usize,
    },
    /// The first page is too small for the count it announces.
    #[error(
        "the server's first page holds {per_page} of {count} items; plotward asks for 500 a \
         page and needs at least {MIN_PAGE_ITEMS} to bound the listing"
    )]
    PagesTooSmall {
        count: usize,
        /// Items on the first page.
        per_page: usize,
    },
    /// A page that added no item not already listed: the walk makes no progress.
    #[error(
        "the server's page `{0}` lists nothing new (empty, or only items already listed); \
         the listing makes no progress. If the account is changing fast, re-run"
    )]
    NoProgress(String),
    /// More items than the ceiling.
    #[error("the server listed more than {MAX_COUNT} items; refusing to go on")]
    TooManyItems,
}

/// Checks a page's `count` against the ceiling.
pub(crate) fn check_count(count: usize) -> Result<usize, PagingError> {
    if count > MAX_COUNT {
        Err(PagingError::CountTooLarge { count })
    } else {
        Ok(count)
    }
}

/// Checks the first page's size: when another page follows, it must hold at least
/// [`MIN_PAGE_ITEMS`]. A lone page is the whole listing, judged by the count check.
pub(crate) fn check_page_size(
    count: usize,
    per_page: usize,
    has_next: bool,
) -> Result<(), PagingError> {
    if !has_next || per_page >= MIN_PAGE_ITEMS {
        Ok(())
    } else {
        Err(PagingError::PagesTooSmall { count, per_page })
    }
}

/// How many pages a listing of `count` items at `per_page` a page may take, margin included.
/// A first page with no items cannot say how big pages are, so only the margin is allowed.
pub(crate) fn page_budget(count: usize, per_page: usize) -> usize {
    if per_page == 0 {
        return 1 + PAGE_MARGIN;
    }
    count.min(MAX_COUNT).div_ceil(per_page).max(1) + PAGE_MARGIN
}

/// The pages that fetching by number should ask for after the first: `2..=last`, or `None`
/// when the first page holds everything or says nothing usable.
pub(crate) fn numbered_pages(
    count: usize,
    per_page: usize,
) -> Option<std::ops::RangeInclusive<usize>> {
    if per_page == 0 || count <= per_page {
        return None;
    }
    Some(2..=count.min(MAX_COUNT).div_ceil(per_page))
}

/// A walk along `next` links: refuses a page seen before, and more pages or items than the
/// budget allows.
#[derive(Debug)]
pub(crate) struct Walk {
    seen: HashSet<Url>,
    /// Fingerprints of the fids listed so far (8 bytes each, not the fids themselves).
    listed: HashSet<u64>,
    budget: usize,
    count: usize,
    per_page: usize,
    items: usize,
}

impl Walk {
    /// Starts a walk whose first page, already fetched, was `first` with `items` items.
    pub(crate) fn new(first: Url, count: usize, per_page: usize) -> Walk {
        Walk {
            seen: HashSet::from([first]),
            listed: HashSet::new(),
            budget: page_budget(count, per_page),
            count,
            per_page,
            items: per_page,
        }
    }

    /// Records the next page's URL before it is fetched; refuses a repeat or one page too many.
    pub(crate) fn step(&mut self, url: &Url) -> Result<(), PagingError> {
        if self.seen.contains(url) {
            return Err(PagingError::Repeated(super::base::redact(url.as_str())));
        }
        if self.seen.len() >= self.budget {
            return Err(PagingError::TooManyPages {
                budget: self.budget,
                count: self.count,
                per_page: self.per_page,
            });
        }
        self.seen.insert(url.clone());
        Ok(())
    }

    /// Records the items of a fetched page; refuses more than the ceiling.
    pub(crate) fn add_items(&mut self, items: usize) -> Result<(), PagingError> {
        self.items = self.items.saturating_add(items);
        if self.items > MAX_COUNT + self.per_page {
            return Err(PagingError::TooManyItems);
        }
        Ok(())
    }

    /// Records the fids of a page (the first page too); refuses a page after the first that
    /// adds none, so a server cannot keep a walk going with empty or repeated pages.
    pub(crate) fn add_fids<'f>(
        &mut self,
        url: &Url,
        fids: impl Iterator<Item = &'f str>,
    ) -> Result<(), PagingError> {
        let before = self.listed.len();
        self.listed.extend(fids.map(fingerprint));
        if self.listed.len() == before && self.seen.len() > 1 {
            return Err(PagingError::NoProgress(super::base::redact(url.as_str())));
        }
        Ok(())
    }

    /// Pages fetched so far, the first included.
    #[cfg(test)]
    pub(crate) fn pages(&self) -> usize {
        self.seen.len()
    }
}

/// A fid's fingerprint: collisions only ever make a page look less new, never more.
fn fingerprint(fid: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    fid.hash(&mut hasher);
    hasher.finish()
}
