"""E-mail intake: inbound mail becomes the customer's words on their case."""
