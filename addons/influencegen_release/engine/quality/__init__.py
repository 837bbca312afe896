"""Quality: tool reports parsed into findings and test results, and gates judged on them."""
