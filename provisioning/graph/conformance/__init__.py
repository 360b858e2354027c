"""The conformance kit: the product's Graph assumptions, run against one test user of a real tenant."""
