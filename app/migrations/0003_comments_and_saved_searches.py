"""Comments on events and saved searches.

comment: goes with its event (CASCADE); keeps its author text when the user is deleted (SET NULL).
saved_search: a user's named /events query string, private unless shared; goes with its user,
names unique per user. A frozen copy of the models as they were when this shipped: never edit it.
"""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, Model, TextField


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Event(Model):
        class Meta:
            database = db
            table_name = 'event'

    class Comment(Model):
        event = ForeignKeyField(Event, on_delete='CASCADE')
        author = CharField(max_length=200)
        user = ForeignKeyField(User, null=True, on_delete='SET NULL')
        body = TextField()
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'comment'
    db.create_tables([Comment])

    class SavedSearch(Model):
        user = ForeignKeyField(User, on_delete='CASCADE', index=False)
        name = CharField(max_length=100)
        query = TextField(default='')
        shared = BooleanField(default=False)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'saved_search'
            indexes = ((('user', 'name'), True),)
    db.create_tables([SavedSearch])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('saved_search'))
    migrator.migrate(migrator.drop_table('comment'))
