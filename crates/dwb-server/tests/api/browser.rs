//! The portal driven in a real headless Chromium, by the labels a person sees.
