"""The pages people use: thin views that parse a form or query, call one capability function and render a template."""
