"""Development sandbox for Essaim: fakes and tools that let the bot run without Telegram."""
