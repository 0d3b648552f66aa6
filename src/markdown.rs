//! Scenario and lesson texts are written in Markdown (`*emphasis*`, `**strong**`, `` `code` ``,
//! lists, links); the page shows them rendered. Rendering is CommonMark by `pulldown-cmark`,
//! with one rule of our own: raw HTML in the text is never passed through — it is shown as
//! the text it is — so a scenario file from anywhere cannot put markup or script in the page.

use pulldown_cmark::{html, Event, Options, Parser, Tag};

/// `text` (Markdown) as HTML that is safe to insert into the page: raw HTML is escaped, links
/// keep only `http(s):`, `mailto:` and relative targets, and images become their alt text.
pub fn to_safe_html(text: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut in_image = 0usize;
    let events = Parser::new_ext(text, options).filter_map(|event| match event {
        // Raw HTML, block or inline, is kept as visible text.
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let dest_url = if safe_url(&dest_url) {
                dest_url
            } else {
                "#".into()
            };
            Some(Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }))
        }
        // No images from a scenario file (nothing may leave the page): their alt text stays.
        Event::Start(Tag::Image { .. }) => {
            in_image += 1;
            None
        }
        Event::End(pulldown_cmark::TagEnd::Image) => {
            in_image = in_image.saturating_sub(1);
            None
        }
        other => Some(other),
    });
    let mut out = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// Whether a link target is harmless: web and mail links, and links within the page or site.
fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    match lower.split_once(':') {
        Some((scheme, _)) if !scheme.contains('/') && !scheme.contains('?') => {
            matches!(scheme, "http" | "https" | "mailto")
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emphasis_strong_and_code_are_rendered() {
        let html =
            to_safe_html("The style of *dataflow through databases*: **orders** polls `jobs`.");
        assert!(
            html.contains("<em>dataflow through databases</em>"),
            "{html}"
        );
        assert!(html.contains("<strong>orders</strong>"), "{html}");
        assert!(html.contains("<code>jobs</code>"), "{html}");
        assert!(!html.contains('*') && !html.contains('`'), "{html}");
    }

    #[test]
    fn raw_html_is_shown_as_text_never_passed_through() {
        let html = to_safe_html(
            "Hi <script>alert(1)</script> and <b onclick=x>bold</b>\n\n<div>block</div>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b "), "{html}");
        assert!(!html.contains("<div>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn only_harmless_links_and_no_images() {
        let html = to_safe_html(
            "[a](javascript:alert(1)) [b](https://example.org) [c](#part) ![pic](http://x/y.png)",
        );
        assert!(!html.to_ascii_lowercase().contains("javascript:"), "{html}");
        assert!(html.contains("href=\"https://example.org\""), "{html}");
        assert!(html.contains("href=\"#part\""), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("pic"), "the image's alt text stays: {html}");
    }

    #[test]
    fn event_handlers_in_raw_html_stay_text() {
        let html = to_safe_html("<img src=x onerror=\"alert(1)\"> <svg onload=alert(2)>");
        assert!(!html.contains("<img") && !html.contains("<svg"), "{html}");
        assert!(html.contains("&lt;img"), "{html}");
    }

    #[test]
    fn every_built_in_description_and_lesson_renders_without_markdown_left() {
        for (name, text) in crate::sim::builtin::SCENARIOS {
            let scenario = crate::sim::scenario::Scenario::parse(text).expect("built-in parses");
            let mut texts: Vec<String> = scenario.description.into_iter().collect();
            if let Some(lesson) = scenario.lesson {
                texts.extend(lesson.question);
                texts.extend(lesson.explain);
                texts.extend(lesson.try_steps);
            }
            for text in texts {
                let html = to_safe_html(&text);
                assert!(
                    !html.contains("**") && !html.contains('`'),
                    "{name}: {html}"
                );
            }
        }
    }
}
