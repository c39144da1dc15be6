//! Page size and index, parsed once at the edge and bounded.

use crate::CoreError;

pub const MAX_PAGE_SIZE: i64 = 1000;
pub const DEFAULT_PAGE_SIZE: i64 = 50;

/// A validated page request: `index` counts from 1, as in the v2 API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub index: i64,
    pub size: i64,
}

impl Page {
    pub fn parse(index: Option<i64>, size: Option<i64>) -> Result<Self, CoreError> {
        let size = size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(CoreError::new(
                "PageSize",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        let index = index.unwrap_or(1);
        if index < 1 {
            return Err(CoreError::new("PageIndex", "must be 1 or more"));
        }
        Ok(Self { index, size })
    }
    pub fn offset(&self) -> i64 {
        (self.index - 1).saturating_mul(self.size)
    }
    pub fn total_pages(&self, total: i64) -> i64 {
        (total + self.size - 1) / self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(
            Page::parse(None, None).unwrap(),
            Page { index: 1, size: 50 }
        );
        assert_eq!(Page::parse(Some(0), None).unwrap_err().field, "PageIndex");
        assert_eq!(Page::parse(None, Some(0)).unwrap_err().field, "PageSize");
        assert_eq!(Page::parse(None, Some(1001)).unwrap_err().field, "PageSize");
        let p = Page::parse(Some(3), Some(10)).unwrap();
        assert_eq!(p.offset(), 20);
        assert_eq!(p.total_pages(21), 3);
        assert_eq!(p.total_pages(0), 0);
    }

    proptest::proptest! {
        #[test]
        fn any_numbers_give_a_bounded_page_or_an_error_naming_the_field(
            index in proptest::option::of(proptest::num::i64::ANY),
            size in proptest::option::of(proptest::num::i64::ANY),
            total in 0..i64::from(u32::MAX),
        ) {
            match Page::parse(index, size) {
                Ok(p) => {
                    proptest::prop_assert!(p.index >= 1 && (1..=MAX_PAGE_SIZE).contains(&p.size));
                    proptest::prop_assert!(p.offset() >= 0);
                    proptest::prop_assert!(p.total_pages(total) >= 0);
                }
                Err(e) => proptest::prop_assert!(e.field == "PageIndex" || e.field == "PageSize"),
            }
        }
    }
}
