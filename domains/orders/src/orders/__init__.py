"""Orders: Orders placed in the shop, as a stream and as daily facts."""
