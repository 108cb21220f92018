"""A local model that speaks the Anthropic Messages API and plays a scripted scenario."""
