//! Lists page with an opaque cursor (R-API-4): `?limit=&cursor=` in, a [`Page`] with the cursor
//! to the next page out. The cursor wraps the position the domain's list function gave (the last
//! item's sort key); clients pass it back unchanged and must not read it. A tampered cursor gets
//! no further than the caller's own objects: the position is only a place in their list.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiError;
use crate::secret::{b64, b64_decode};

/// What a cursor starts with, so the format can change without misreading old cursors.
const VERSION: &str = "v1:";
/// The longest position a cursor carries.
const MAX_POSITION: usize = 512;

/// The paging parameters of a list operation.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many items at most (default 20, at most 100).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page; absent for the first. The pattern says only
    /// what a cursor of ours looks like (canonical base64url of the version and a position).
    #[param(
        max_length = 687,
        pattern = "^djE6([A-Za-z0-9_-]{4})*([A-Za-z0-9_-]{4}|[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])$"
    )]
    pub cursor: Option<String>,
}

/// A checked page request: how many, and after which position.
#[derive(Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// How many items at most.
    pub limit: u32,
    /// The position after which the page starts; `None` for the first page.
    pub after: Option<String>,
}

/// The default page size.
pub const DEFAULT_LIMIT: u32 = 20;
/// The largest page size.
pub const MAX_LIMIT: u32 = 100;

impl PageQuery {
    /// The request this query makes, or a 400 that says what is wrong.
    pub fn checked(self) -> Result<PageRequest, ApiError> {
        let limit = match self.limit {
            None => DEFAULT_LIMIT,
            Some(n @ 1..=MAX_LIMIT) => n,
            Some(_) => return Err(ApiError::BadRequest(format!("limit must be between 1 and {MAX_LIMIT}"))),
        };
        let after = match self.cursor {
            None => None,
            Some(c) => Some(open(&c).ok_or_else(|| ApiError::BadRequest("the cursor is not one this API gave".into()))?),
        };
        Ok(PageRequest { limit, after })
    }
}

fn open(cursor: &str) -> Option<String> {
    if cursor.len() > MAX_POSITION * 2 {
        return None;
    }
    let bytes = b64_decode(cursor)?;
    let position = bytes.strip_prefix(VERSION.as_bytes())?;
    if position.is_empty() || position.len() > MAX_POSITION {
        return None;
    }
    // A made-up position is only a place in the caller's own list: read it as text, without
    // the NUL that PostgreSQL refuses in text.
    Some(String::from_utf8_lossy(position).replace('\0', ""))
}

/// The cursor that continues after `position`.
pub fn cursor(position: &str) -> String {
    b64(format!("{VERSION}{position}").as_bytes())
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Where the next page starts; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page of `items`, fetched with one more than `request.limit` asked for so the last
    /// page is known without another query; `position` gives an item's place in the list.
    pub fn of(mut items: Vec<T>, request: &PageRequest, position: impl Fn(&T) -> String) -> Page<T> {
        let limit = request.limit as usize;
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = if more {
            items.last().map(|last| cursor(&position(last)))
        } else {
            None
        };
        Page { items, next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(limit: Option<u32>, cursor: Option<&str>) -> PageQuery {
        PageQuery {
            limit,
            cursor: cursor.map(str::to_owned),
        }
    }

    #[test]
    fn r_api_4_a_cursor_returns_the_position_it_was_made_from_and_nothing_else_passes() {
        let c = cursor("2026-12-01T08:00:00Z|case-17");
        let request = query(Some(5), Some(&c)).checked().unwrap();
        assert_eq!(
            request,
            PageRequest {
                limit: 5,
                after: Some("2026-12-01T08:00:00Z|case-17".into())
            }
        );
        assert_eq!(
            query(None, None).checked().unwrap(),
            PageRequest {
                limit: DEFAULT_LIMIT,
                after: None
            }
        );
        for bad in ["", "not base64!", &b64(b"v0:x"), &b64(b"v1:"), &"A".repeat(2000)] {
            assert!(matches!(query(None, Some(bad)).checked(), Err(ApiError::BadRequest(_))), "{bad:?}");
        }
        for limit in [0, MAX_LIMIT + 1] {
            assert!(
                matches!(query(Some(limit), None).checked(), Err(ApiError::BadRequest(_))),
                "{limit}"
            );
        }
    }

    #[test]
    fn r_api_4_a_made_up_position_is_read_as_text_without_nul() {
        let c = b64(b"v1:\x00\xffa");
        assert_eq!(open(&c), Some("\u{fffd}a".to_string()));
    }

    #[test]
    fn r_api_4_a_page_has_a_next_cursor_only_when_more_items_follow() {
        let request = PageRequest { limit: 2, after: None };
        let page = Page::of(vec![1, 2, 3], &request, |n| n.to_string());
        assert_eq!(page.items, [1, 2]);
        assert_eq!(page.next_cursor.as_deref().map(open), Some(Some("2".into())));
        let last = Page::of(vec![1, 2], &request, |n| n.to_string());
        assert_eq!((last.items.len(), last.next_cursor), (2, None));
    }
}
