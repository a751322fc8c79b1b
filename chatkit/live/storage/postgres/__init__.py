"""PostgreSQL behind the live server's storage and account interfaces.

With ``chatkit serve --database postgresql://...`` the messages, accounts, sessions
and chat members all live in one PostgreSQL database, so several server processes,
on one host or many, serve the same chats: any of them accepts a token another
issued, and sequence numbers stay gap-free per chat whoever writes. Importing this
package loads asyncpg; the SQLite default never does.
"""
