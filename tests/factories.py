"""factory_boy factories shared by the whole suite."""

from __future__ import annotations

import factory
from django.contrib.auth.models import Permission

from govcenter.core.models import District, Role, Unit, User

DEFAULT_PASSWORD = "Test-Passw0rd!"


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = District
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"9{n:05d}")
    name_zh = factory.Sequence(lambda n: f"测试区{n}")
    name_en = factory.Sequence(lambda n: f"Test District {n}")


class UnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Unit

    code = factory.Sequence(lambda n: f"U{n:05d}")
    name_zh = factory.Sequence(lambda n: f"测试单位{n}")
    name_en = factory.Sequence(lambda n: f"Test unit {n}")
    kind = "department"


class RoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Role
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"role-{n}")
    name_zh = factory.Sequence(lambda n: f"角色{n}")
    scope_kind = "own_unit"

    @factory.post_generation
    def perms(self, create, extracted, **kwargs):
        """``RoleFactory(perms=["core.view_audit", …])``."""
        for dotted in extracted or []:
            app_label, codename = dotted.split(".", 1)
            self.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))

    @factory.post_generation
    def district_set(self, create, extracted, **kwargs):
        for district in extracted or []:
            self.districts.add(district)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Sequence(lambda n: f"测试用户{n}")
    phone = factory.Sequence(lambda n: f"138{n:08d}")
    unit = factory.SubFactory(UnitFactory)
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def role_set(self, create, extracted, **kwargs):
        """``UserFactory(role_set=[role, …])``."""
        for role in extracted or []:
            self.roles.add(role)
        self.save()
