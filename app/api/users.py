"""Users (admin only)."""
from flask import Blueprint, g

from app.api.bodies import json_body
from app.domain import accounts
from app.domain.schemas import UserSchema

bp = Blueprint("users", __name__)
user_schema = UserSchema()


@bp.get("/users")
def list_users():
    return {"items": user_schema.dump([accounts.user_view(u) for u in accounts.list_users()], many=True)}


@bp.post("/users")
def create_user():
    user = accounts.create_user(json_body(), actor=g.actor)
    return user_schema.dump(accounts.user_view(user)), 201


@bp.get("/users/<username>")
def get_user(username):
    return user_schema.dump(accounts.user_view(accounts.get_user(username)))


@bp.patch("/users/<username>")
def update_user(username):
    return user_schema.dump(accounts.user_view(accounts.update_user(username, json_body(), actor=g.actor)))
