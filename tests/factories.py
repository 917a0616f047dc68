from __future__ import annotations

import factory

from annotation.models import AnnotatorPool, Output, PoolKind, PoolMembership, Prompt, System
from common.models import Project, ProjectMembership, ProjectRole, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    slug = factory.Sequence(lambda n: f"project-{n}")
    name = factory.Sequence(lambda n: f"Project {n}")
    created_by = factory.SubFactory(UserFactory)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProjectMembership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = ProjectRole.ANNOTATOR


class PoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AnnotatorPool

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Pool {n}")
    kind = PoolKind.CROWD


class PoolMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PoolMembership

    pool = factory.SubFactory(PoolFactory)
    user = factory.SubFactory(UserFactory)


class SystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = System

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"system-{n}")


class PromptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prompt

    project = factory.SubFactory(ProjectFactory)
    external_id = factory.Sequence(lambda n: f"p{n}")
    text = factory.Sequence(lambda n: f"Prompt number {n}?")


class OutputFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Output

    prompt = factory.SubFactory(PromptFactory)
    system = factory.SubFactory(SystemFactory, project=factory.SelfAttribute("..prompt.project"))
    text = factory.Sequence(lambda n: f"Answer number {n}.")
