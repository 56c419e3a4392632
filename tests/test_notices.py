"""Posts that are not news: a channel's fundraiser, an air-raid alarm or its all-clear (QA of
channel feeds: each was an urgent "missiles on Kyiv" alert, or a front rule's digest story)."""

from __future__ import annotations

import pytest

from alerts import config
from alerts.explain import explain, render_text
from alerts.items import from_entry
from alerts.notices import builtin_notices

from .conftest import ROOT


def shipped():
    return config.load(ROOT / "rules.yaml")


@pytest.mark.parametrize(
    "text",
    [
        "🔴 Повітряна тривога в м. Київ та Київській області!\nЗагроза застосування "
        "балістичного озброєння. Прямуйте до укриттів.",
        "✅ Відбій повітряної тривоги в м. Київ\nЗагрозу балістичних ракет знято.",
        "🔴 Воздушная тревога в Киеве и области!\nУгроза применения баллистических ракет.",
        "🚨 Air raid alert in Kyiv and Kyiv Oblast.\nThreat of ballistic missile use.",
        "✅ All clear in Kyiv. The threat of ballistic missiles is over\nYou may leave shelters.",
        "💙💛 Збираємо на відновлення дитячого садочка в Києві\nСадочок постраждав від "
        "ракетного удару. Банка: send.monobank.ua/jar/abc",
        "🇺🇦 FUNDRAISER: our friends in a drone unit near Pokrovsk need two Mavic drones\n"
        "Goal: $9,000.",
        "❗️Сбор на эвакуационный автомобиль для медиков\nВывозят раненых из-под обстрелов "
        "в Херсоне. Нужно 300 000 грн.",
    ],
)
def test_a_notice_is_not_news(text: str) -> None:
    assert builtin_notices().notice(text)
    assert shipped().matcher.match(text).rules == ()


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        # an alarm that tells of an impact is news of an attack
        ("Повітряна тривога в Києві\nВибухи, уламки ракети впали на Оболоні.", "kyiv-missiles"),
        ("Air raid alert in Kyiv\nExplosions heard; missile debris hit a house.", "kyiv-missiles"),
        # a fundraiser named after the news is the news
        ("Ракети влучили у Київ\nЗбір коштів на відновлення оголошено.", "kyiv-missiles"),
        # an alarm named inside a report
        ("Ракетна атака на Київ\nПовітряна тривога тривала дві години.", "kyiv-missiles"),
        # an alarm over an attack told in other words, and an all-clear over its toll (QA)
        ("Повітряна тривога у Києві триває\nПрильоти балістики, горять автівки.", "kyiv-missiles"),
        (
            "Отбой тревоги в Киеве\nПосле ракетного удара убиты двое, травмированы пятеро.",
            "kyiv-missiles",
        ),
        ("Повітряна тривога: ракети над Києвом\nППО збили 6 з 8 крилатих ракет.", "kyiv-missiles"),
        (
            "Air raid alert in Kyiv as ballistic missiles target the city\nOne person died.",
            "kyiv-missiles",
        ),
        # openings that are not fundraisers: no money named (QA)
        ("Збираємо головне: ракетний удар по Києву, двоє загиблих\nДеталі.", "kyiv-missiles"),
        (
            "Збір на полях Сумщини: фермера поранило скидом з дрона\nЙого шпиталізували.",
            "sumy-front",
        ),
    ],
)
def test_news_that_names_an_alarm_or_a_fundraiser_is_news(text: str, rule: str) -> None:
    assert builtin_notices().notice(text) is None
    assert rule in shipped().matcher.match(text).rules


def test_explain_says_a_notice_is_not_news() -> None:
    item = from_entry("F", {"title": "🔴 Повітряна тривога в м. Київ", "summary": "Загроза ракет."})
    exp = explain(shipped(), item)
    assert exp.as_json()["notice"] == "an air-raid alarm or its all-clear"
    assert "matched: nothing: not news but an air-raid alarm or its all-clear" in render_text(exp)
