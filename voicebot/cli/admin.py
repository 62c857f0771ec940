"""``voicebot admin create-user|list-users``: the admin console's users.

``create-user NAME --role admin|supervisor|analyst`` reads the password from
``VOICEBOT_ADMIN_PASSWORD`` or prompts for it (twice, hidden); it is stored only as an argon2id
hash. The action is written to the audit log as done by ``cli``."""
from __future__ import annotations

import os

import click

MIN_PASSWORD_CHARS = 10


@click.group(help="Admin console users.")
def admin():
    pass


@admin.command("create-user", help="Create a console user (password from VOICEBOT_ADMIN_PASSWORD or a prompt).")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["admin", "supervisor", "analyst"]), help="what the user may do")
def create_user(name, role):
    from voicebot.config import load_settings
    from voicebot.security.passwords import PasswordHasher
    from voicebot.storage import admin as users
    from voicebot.storage.keys import open_database

    password = os.environ.get("VOICEBOT_ADMIN_PASSWORD") or click.prompt(
        f"password for {name}", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD_CHARS:
        raise click.ClickException(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    db = open_database(load_settings()).db
    users.create_user(db, name, PasswordHasher().hash(password), role)
    users.audit(db, "cli", "user.create", name, {"role": role})
    click.echo(f"created {role} {name}; log in at /admin/login")


@admin.command("list-users", help="List console users and their roles.")
def list_users():
    from voicebot.config import load_settings
    from voicebot.storage import admin as users
    from voicebot.storage.keys import open_database

    for user in users.list_users(open_database(load_settings()).db):
        click.echo(f"{user['name']:24} {user['role']:11} created {user['created_at'][:19]}")
