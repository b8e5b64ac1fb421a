"""Users (admin only)."""
from flask import Blueprint, g

from app.accounts import users
from app.accounts.schemas import UserCreateSchema, UserSchema, UserUpdateSchema
from app.api.bodies import items_of, json_body
from app.api.openapi import doc

bp = Blueprint("users", __name__)
user_schema = UserSchema()
UserList = items_of(UserSchema, "UserList")


@bp.get("/users")
@doc("List users (admin)", response=UserList)
def list_users():
    return {"items": user_schema.dump([users.user_view(u) for u in users.list_users()], many=True)}


@bp.post("/users")
@doc("Create a user (admin)", body=UserCreateSchema, response=UserSchema, status=201)
def create_user():
    user = users.create_user(json_body(), actor=g.actor)
    return user_schema.dump(users.user_view(user)), 201


@bp.get("/users/<username>")
@doc("One user (admin)", response=UserSchema)
def get_user(username):
    return user_schema.dump(users.user_view(users.get_user(username)))


@bp.patch("/users/<username>")
@doc("Change a user's role, active flag or password (admin)", body=UserUpdateSchema, response=UserSchema)
def update_user(username):
    return user_schema.dump(users.user_view(users.update_user(username, json_body(), actor=g.actor)))
