"""Latent physiology of one synthetic person: traits, daily behaviour, minute-level signals.

Everything is simulated on a one-minute grid in UTC that starts at 18:00 local time on the study
visit date (the evening before day 1) and ends at local midnight after the last study day, so that
every study day is a complete local calendar day and the night ending on day 1 is complete. Local
time (with daylight saving) decides when people sleep, eat and move; the writer only samples these
arrays at the device's rates and formats them.

The causal chain is deliberate, because counterfactuals need structure to find:
sleep and steps (behaviour) -> glucose -> daily stress level and heart rate (outcomes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
from scipy.signal import lfilter

# (site, first digit of person id, IANA zone, header abbreviation)
SITES: tuple[tuple[str, int, str, str], ...] = (
    ("UW", 1, "America/Los_Angeles", "pst"),
    ("UCSD", 4, "America/Los_Angeles", "pst"),
    ("UAB", 7, "America/Chicago", "cst"),
)
STUDY_GROUPS: tuple[str, ...] = (
    "healthy",
    "pre_diabetes_lifestyle_controlled",
    "oral_medication_and_or_non_insulin_injectable_medication_controlled",
    "insulin_dependent",
)
GROUP_PROBS = (0.35, 0.25, 0.30, 0.10)
SPLITS = ("train", "val", "test")
SPLIT_PROBS = (0.70, 0.15, 0.15)

# Sleep stage codes on the minute grid; -1 means "not in bed".
OUT_OF_BED, AWAKE, LIGHT, DEEP, REM = -1, 0, 1, 2, 3
STAGE_NAMES = ("awake", "light", "deep", "rem")

# Activity codes per interval (index into ACTIVITY_NAMES).
SEDENTARY, WALKING, RUNNING, GENERIC = 0, 1, 2, 3
ACTIVITY_NAMES = ("sedentary", "walking", "running", "generic")

FIRST_VISIT = date(2023, 1, 2)
LAST_DAY = date(2024, 12, 31)
WINDOW_START_HOUR = 18  # local hour on the visit date when recording starts
MAX_PER_SITE = 999  # person ids are <site digit><3 digits>


@dataclass(frozen=True)
class Traits:
    """Stable characteristics of one person (the `persons` ground-truth table)."""

    index: int
    person_id: int
    clinical_site: str
    tz_name: str
    tz_abbrev: str
    study_group: str
    severity: int
    age: int
    fitness: float
    sleep_need_h: float
    habitual_sleep_h: float
    bedtime_offset_min: float  # habitual bedtime, minutes relative to local midnight (negative)
    awake_min_mean: float  # habitual minutes awake in bed per night (fragmentation)
    deep_share: float
    rem_share: float
    habitual_steps: float
    workout_prob: float
    stress_reactivity: float
    baseline_stress: float
    resting_hr: float
    glucose_base: float
    meal_amplitude: float
    meal_duration: float
    spo2_base: float
    visit_date: date
    recommended_split: str
    cgm_phase_s: int


def person_id_for(index: int) -> tuple[int, tuple[str, int, str, str]]:
    """Person id and site for the person at `index` (sites rotate; ids never collide).

    >>> person_id_for(0)[0], person_id_for(2)[0], person_id_for(3)[0]
    (1001, 7001, 1002)
    """
    site = SITES[index % len(SITES)]
    return site[1] * 1000 + 1 + index // len(SITES), site


def draw_traits(index: int, rng: np.random.Generator, days: int) -> Traits:
    """Draw one person's traits. The order of draws is part of the determinism contract."""
    pid, (site, _, tz_name, tz_abbrev) = person_id_for(index)
    age = int(np.clip(round(40 + 45 * rng.beta(2.0, 2.2)), 40, 85))
    severity = int(rng.choice(4, p=GROUP_PROBS))
    # Fitness falls with age and disease severity (z-score-like, cohort mean near 0).
    fitness = float(rng.normal() - 0.3 * (severity - 1.15) - 0.02 * (age - 62))
    sleep_need = float(rng.uniform(7.0, 8.5))
    habitual_sleep = float(np.clip(rng.normal(7.0, 0.55), 5.2, 8.7))
    bedtime = float(np.clip(rng.normal(-70, 35), -180, 10))
    awake_mean = float(np.exp(rng.normal(np.log(20), 0.3)) * (1 + 0.01 * (age - 60)))
    deep = float(np.clip(0.20 - 0.0022 * (age - 40) + rng.normal(0, 0.02), 0.06, 0.28))
    rem = float(np.clip(rng.normal(0.21, 0.025), 0.13, 0.28))
    steps = float(
        np.clip(
            np.exp(np.log(7600) + 0.30 * fitness - 0.010 * (age - 62) + rng.normal(0, 0.22)),
            1500,
            20000,
        )
    )
    workout_prob = float(np.clip(0.18 + 0.12 * fitness, 0.03, 0.5))
    reactivity = float(np.exp(rng.normal(0, 0.12)))
    baseline_stress = float(rng.normal(0, 1.9))
    resting_hr = float(
        np.clip(64 - 3.5 * fitness + 0.06 * (age - 60) + 1.2 * severity + rng.normal(0, 3), 48, 92)
    )
    glucose_base = float((92, 104, 124, 140)[severity] + rng.normal(0, 6))
    meal_amp = float((32, 45, 65, 85)[severity] * np.exp(rng.normal(0, 0.15)))
    meal_dur = (1.0, 1.15, 1.4, 1.6)[severity]
    spo2 = float(np.clip(95.0 - 0.04 * (age - 60) - 0.6 * severity + rng.normal(0, 0.8), 88, 98))
    span = (LAST_DAY - FIRST_VISIT).days - days - 1
    visit = FIRST_VISIT + timedelta(days=int(rng.integers(0, max(span, 1))))
    split = SPLITS[int(rng.choice(3, p=SPLIT_PROBS))]
    phase = int(rng.integers(0, 300))
    return Traits(
        index=index,
        person_id=pid,
        clinical_site=site,
        tz_name=tz_name,
        tz_abbrev=tz_abbrev,
        study_group=STUDY_GROUPS[severity],
        severity=severity,
        age=age,
        fitness=fitness,
        sleep_need_h=sleep_need,
        habitual_sleep_h=habitual_sleep,
        bedtime_offset_min=bedtime,
        awake_min_mean=awake_mean,
        deep_share=deep,
        rem_share=rem,
        habitual_steps=steps,
        workout_prob=workout_prob,
        stress_reactivity=reactivity,
        baseline_stress=baseline_stress,
        resting_hr=resting_hr,
        glucose_base=glucose_base,
        meal_amplitude=meal_amp,
        meal_duration=meal_dur,
        spo2_base=spo2,
        visit_date=visit,
        recommended_split=split,
        cgm_phase_s=phase,
    )


@dataclass
class Clock:
    """The person's recording window on the minute grid, with its local-time view."""

    start_utc: np.datetime64  # first minute, UTC, seconds precision
    n: int  # number of minutes in the window
    local_minute: np.ndarray  # minutes since local midnight of the visit date, per grid minute
    midnight_idx: np.ndarray  # grid index of local midnight starting day d, d = 0..days+1
    dates: list[date]  # local date of day d, d = 0..days+1

    @property
    def local_day(self) -> np.ndarray:
        return self.local_minute // 1440

    @property
    def minute_of_day(self) -> np.ndarray:
        return self.local_minute % 1440


@lru_cache(maxsize=4)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _utc_offset(moment: datetime, tz: ZoneInfo) -> timedelta:
    offset = moment.astimezone(tz).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return offset


def make_clock(visit: date, days: int, tz_name: str) -> Clock:
    """Build the window from 18:00 local on `visit` to local midnight after day `days`.

    >>> c = make_clock(date(2023, 3, 10), 3, "America/Los_Angeles")  # spans the spring DST change
    >>> c.n == (6 + 3 * 24 - 1) * 60
    True
    """
    tz = _zone(tz_name)
    start_local = datetime.combine(visit, time(WINDOW_START_HOUR), tzinfo=tz)
    start = start_local.astimezone(timezone.utc)
    dates = [visit + timedelta(days=d) for d in range(days + 2)]
    midnights = [datetime.combine(d, time(0), tzinfo=tz).astimezone(timezone.utc) for d in dates]
    midnight_idx = np.array([int((m - start).total_seconds() // 60) for m in midnights])
    n = int(midnight_idx[-1])
    # US offsets change on whole hours, so one offset per elapsed hour is exact.
    hours = (n + 59) // 60
    offsets = np.array(
        [
            int(_utc_offset(start + timedelta(hours=h), tz).total_seconds() // 60)
            for h in range(hours)
        ]
    )
    k = np.arange(n)
    local_minute = k + WINDOW_START_HOUR * 60 + (offsets[k // 60] - offsets[0])
    start64 = np.datetime64(start.replace(tzinfo=None), "s")
    return Clock(start64, n, local_minute.astype(np.int64), midnight_idx, dates)


@dataclass
class PersonSeries:
    """One person's simulated signals and per-day truth (minute grid unless noted)."""

    traits: Traits
    clock: Clock
    stage: np.ndarray  # int8 per minute: -1 out of bed, else AWAKE/LIGHT/DEEP/REM
    sleep_runs: list[list[tuple[int, int, int]]]  # per night: (start_idx, end_idx, stage) runs
    nights: list[tuple[int, int]]  # per night: (bed_idx, wake_idx), clipped to the window
    steps: np.ndarray  # int steps per minute
    workout_kind: np.ndarray  # int8 per minute: 0 none, WALKING, RUNNING
    glucose: np.ndarray  # float mg/dL per minute (latent, unclipped)
    stress: np.ndarray  # float latent Garmin stress per minute
    hr: np.ndarray  # float bpm per minute
    resp: np.ndarray  # float breaths/min per minute
    spo2: np.ndarray  # float % per minute
    kcal: np.ndarray  # float active kcal per minute
    off_wrist: np.ndarray  # bool per minute (stress "not enough data")
    daily: dict[str, np.ndarray]  # per-day behaviour/latent, index 0..days+1 (0 = visit eve)


def _gamma_kernel(peak: float, length: int) -> np.ndarray:
    """Meal response shape: rises to 1 at `peak` minutes, then decays."""
    tau = np.arange(length, dtype=float)
    return (tau / peak) * np.exp(1 - tau / peak)


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run-length encode: (starts, ends, values)."""
    change = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [len(values)]))
    return starts, ends, values[starts]


def _night_stages(
    sleep_min: int, awake_min: int, deep_share: float, rem_share: float, rng: np.random.Generator
) -> np.ndarray:
    """Stage per minute in bed: ~90-minute cycles, deep early, REM late, awake bouts inserted."""
    n_cycles = max(1, int(round(sleep_min / rng.uniform(85, 105))))
    c = np.arange(n_cycles)
    w_deep = np.exp(-0.7 * c)  # deep sleep is concentrated in the first cycles
    w_rem = 0.4 + c  # REM episodes lengthen through the night
    deep = np.round(deep_share * sleep_min * w_deep / w_deep.sum()).astype(int)
    rem = np.round(rem_share * sleep_min * w_rem / w_rem.sum()).astype(int)
    base = np.full(n_cycles, sleep_min // n_cycles)
    base[: sleep_min % n_cycles] += 1
    light = np.maximum(base - deep - rem, 2)
    parts = []
    for i in range(n_cycles):
        half = light[i] // 2
        parts += [
            np.full(half, LIGHT),
            np.full(deep[i], DEEP),
            np.full(light[i] - half, LIGHT),
            np.full(rem[i], REM),
        ]
    asleep = np.concatenate(parts).astype(np.int8)[:sleep_min]
    if len(asleep) < sleep_min:
        asleep = np.concatenate([asleep, np.full(sleep_min - len(asleep), LIGHT, np.int8)])
    if awake_min <= 0:
        return asleep
    # Split the awake minutes into a few bouts placed between asleep minutes.
    n_bouts = int(np.clip(rng.poisson(1 + awake_min / 8), 1, max(1, awake_min)))
    cuts = (
        np.sort(rng.choice(np.arange(1, awake_min), size=n_bouts - 1, replace=False))
        if (n_bouts > 1 and awake_min > 1)
        else np.array([], dtype=int)
    )
    bout_len = np.diff(np.concatenate(([0], cuts, [awake_min])))
    where = np.sort(rng.integers(1, sleep_min, size=len(bout_len)))
    pieces = np.split(asleep, where)
    out = [pieces[0]]
    for length, piece in zip(bout_len, pieces[1:], strict=True):
        out += [np.full(length, AWAKE, np.int8), piece]
    return np.concatenate(out)


# ---- one person's simulation, step by step --------------------------------------------------
# Each step draws from the person's private generator; the order of the steps (and of the draws
# within each) is part of the determinism contract: the same seed gives the same files.


@dataclass
class Behaviour:
    """Per-day behaviour and its plan (index = local day; night d ends on the morning of day d)."""

    weekend: np.ndarray  # bool per day
    sleep_min: np.ndarray  # int minutes asleep per night
    awake_min: np.ndarray  # int minutes awake in bed per night
    deep_share: np.ndarray
    rem_share: np.ndarray
    bed_offset: np.ndarray  # bedtime, minutes relative to local midnight
    sleep_debt_h: np.ndarray  # hours below the person's sleep need
    steps_target: np.ndarray
    workout: np.ndarray  # bool per day: a workout is planned
    workout_run: np.ndarray  # bool per day: the workout is a run
    workout_len: np.ndarray  # int minutes
    workout_evening: np.ndarray  # bool per day: in the evening, else after waking
    workout_jitter: np.ndarray  # minutes after the planned start
    meal_jitter: np.ndarray  # (days, 3) minutes off the usual meal times
    meal_size: np.ndarray  # (days, 3) multiples of the usual meal


@dataclass
class Sleep:
    """Sleep stages per minute and the nights they form."""

    stage: np.ndarray  # int8 per minute: -1 out of bed, else AWAKE/LIGHT/DEEP/REM
    runs: list[list[tuple[int, int, int]]]  # per night: (start_idx, end_idx, stage) runs
    nights: list[tuple[int, int]]  # per night: (bed_idx, wake_idx), clipped to the window
    wake_idx: np.ndarray  # grid index of waking, per day (0 for the visit eve)

    @property
    def in_bed(self) -> np.ndarray:
        return self.stage >= 0

    @property
    def asleep(self) -> np.ndarray:
        return self.stage > AWAKE


@dataclass
class Movement:
    """Steps and workouts per minute, with their daily totals."""

    workout: np.ndarray  # bool per day: a workout took place (planned and fitting the day)
    workout_run: np.ndarray  # bool per day: the workout that took place was a run
    workout_kind: np.ndarray  # int8 per minute: 0 none, WALKING, RUNNING
    cadence: np.ndarray  # incidental steps per minute (outside workouts)
    workout_cadence: np.ndarray  # steps per minute during workouts
    steps: np.ndarray  # int steps per minute
    steps_day: np.ndarray
    workout_min_day: np.ndarray
    run_min_day: np.ndarray


def _daily_behaviour(traits: Traits, clock: Clock, nd: int, rng: np.random.Generator) -> Behaviour:
    """Each day's sleep, bedtime, step target, workout plan and meals."""
    weekend = np.array([d.weekday() >= 5 for d in clock.dates])
    sleep_h = np.clip(
        traits.habitual_sleep_h + rng.normal(0, 50 / 60, nd) + 0.3 * weekend, 3.5, 11.0
    )
    sleep_min = np.round(sleep_h * 60).astype(int)
    awake_min = np.round(
        np.clip(traits.awake_min_mean * np.exp(rng.normal(0, 0.45, nd)), 2, 150)
    ).astype(int)
    deep_share = np.clip(traits.deep_share + rng.normal(0, 0.02, nd), 0.04, 0.32)
    rem_share = np.clip(traits.rem_share + rng.normal(0, 0.025, nd), 0.10, 0.32)
    # Long nights start a little earlier; bedtime stays within 20:30-01:00 local.
    bed_off = np.clip(
        traits.bedtime_offset_min
        + rng.normal(0, 25, nd)
        - 0.35 * (sleep_min - traits.habitual_sleep_h * 60),
        -210,
        60,
    )
    # Wake by 11:30 local, so that every stage of a night starts before noon (night = noon-to-noon).
    bed_off = np.minimum(bed_off, 690 - (sleep_min + awake_min))
    steps_target = (
        traits.habitual_steps * np.exp(rng.normal(0, 0.35, nd)) * np.where(weekend, 0.9, 1.0)
    )
    workout = rng.random(nd) < traits.workout_prob
    can_run = traits.fitness > 0.2 and traits.age < 72
    workout_run = workout & (rng.random(nd) < (0.55 if can_run else 0.0))
    workout_len = rng.integers(20, 61, nd)
    workout_evening = rng.random(nd) < 0.5
    workout_jitter = rng.uniform(0, 90, nd)
    meal_jitter = rng.normal(0, 35, (nd, 3))
    meal_size = np.exp(rng.normal(0, 0.25, (nd, 3)))
    return Behaviour(
        weekend=weekend,
        sleep_min=sleep_min,
        awake_min=awake_min,
        deep_share=deep_share,
        rem_share=rem_share,
        bed_offset=bed_off,
        sleep_debt_h=np.maximum(0.0, traits.sleep_need_h - sleep_min / 60),
        steps_target=steps_target,
        workout=workout,
        workout_run=workout_run,
        workout_len=workout_len,
        workout_evening=workout_evening,
        workout_jitter=workout_jitter,
        meal_jitter=meal_jitter,
        meal_size=meal_size,
    )


def _sleep(behaviour: Behaviour, clock: Clock, rng: np.random.Generator) -> Sleep:
    """Stages per minute for every night, placed at that night's bedtime."""
    n, nd = clock.n, len(behaviour.sleep_min)
    stage = np.full(n, OUT_OF_BED, np.int8)
    sleep_runs: list[list[tuple[int, int, int]]] = []
    nights: list[tuple[int, int]] = []
    wake_idx = np.zeros(nd, dtype=int)
    for d in range(1, nd):
        seq = _night_stages(
            int(behaviour.sleep_min[d]),
            int(behaviour.awake_min[d]),
            float(behaviour.deep_share[d]),
            float(behaviour.rem_share[d]),
            rng,
        )
        bed = int(clock.midnight_idx[d] + round(behaviour.bed_offset[d]))
        wake = bed + len(seq)
        wake_idx[d] = wake
        lo, hi = max(bed, 0), min(wake, n)
        if lo >= hi:
            sleep_runs.append([])
            nights.append((lo, lo))
            continue
        stage[lo:hi] = seq[lo - bed : hi - bed]
        s, e, v = _runs(seq[lo - bed : hi - bed])
        sleep_runs.append(
            [(lo + int(a), lo + int(b), int(c)) for a, b, c in zip(s, e, v, strict=True)]
        )
        nights.append((lo, hi))
    return Sleep(stage=stage, runs=sleep_runs, nights=nights, wake_idx=wake_idx)


def _movement(
    traits: Traits,
    behaviour: Behaviour,
    sleep: Sleep,
    clock: Clock,
    day_ix: np.ndarray,
    rng: np.random.Generator,
) -> Movement:
    """Workouts placed in local time, and alternating still/moving runs scaled to the step target."""
    n, nd = clock.n, len(behaviour.sleep_min)
    in_bed = sleep.in_bed
    workout, workout_run = behaviour.workout.copy(), behaviour.workout_run.copy()
    workout_kind = np.zeros(n, np.int8)
    for d in range(nd):
        if not workout[d]:
            continue
        if behaviour.workout_evening[d]:
            t0 = int(clock.midnight_idx[d] + 17.5 * 60 + behaviour.workout_jitter[d])
        else:
            t0 = int(sleep.wake_idx[d] + 30 + behaviour.workout_jitter[d]) if d >= 1 else -1
        t1 = t0 + int(behaviour.workout_len[d])
        if t0 < 0 or t1 > n or in_bed[t0:t1].any():
            workout[d] = workout_run[d] = False
            continue
        workout_kind[t0:t1] = RUNNING if workout_run[d] else WALKING
    n_runs = n // 8 + 4
    still = rng.geometric(1 / 25, n_runs)
    moving = rng.geometric(1 / 5, n_runs)
    run_cad = np.where(
        rng.random(n_runs) < 0.35, rng.normal(95, 10, n_runs), rng.gamma(4, 6, n_runs)
    )
    lengths = np.column_stack([still, moving]).ravel()
    state = np.repeat(np.tile([0, 1], n_runs), lengths)[:n]
    cad_run = np.repeat(np.column_stack([np.zeros(n_runs), run_cad]).ravel(), lengths)[:n]
    cadence = np.where((state == 1) & ~in_bed & (workout_kind == 0), cad_run, 0.0)
    cadence *= np.exp(rng.normal(0, 0.15, n))
    # Scale each local day's incidental movement to that day's step target.
    raw = np.bincount(day_ix, weights=cadence, minlength=nd)
    awake_minutes = np.bincount(day_ix, weights=~in_bed, minlength=nd)
    # A full day has ~960 waking minutes; the visit eve gets its pro-rata share of the target.
    factor = behaviour.steps_target * awake_minutes / 960 / np.maximum(raw, 1.0)
    cadence = np.clip(cadence * factor[day_ix], 0, 125)
    wcad = np.where(
        workout_kind == RUNNING,
        rng.normal(160, 6, n),
        np.where(workout_kind == WALKING, rng.normal(112, 5, n), 0.0),
    )
    steps = np.rint(cadence + wcad).astype(np.int64)
    steps[steps < 3] = 0  # a couple of steps is noise the watch does not count
    return Movement(
        workout=workout,
        workout_run=workout_run,
        workout_kind=workout_kind,
        cadence=cadence,
        workout_cadence=wcad,
        steps=steps,
        steps_day=np.bincount(day_ix, weights=steps, minlength=nd),
        workout_min_day=np.bincount(day_ix, weights=workout_kind > 0, minlength=nd),
        run_min_day=np.bincount(day_ix, weights=workout_kind == RUNNING, minlength=nd),
    )


def _glucose(
    traits: Traits,
    behaviour: Behaviour,
    sleep: Sleep,
    movement: Movement,
    clock: Clock,
    day_ix: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Glucose (mg/dL per minute): meal responses that activity blunts and short sleep worsens,
    exercise dips, the dawn rise, a day-level shift, noise; hypos and highs for insulin users."""
    n, nd = clock.n, len(behaviour.sleep_min)
    mod = clock.minute_of_day
    sev = traits.severity
    debt_h = behaviour.sleep_debt_h
    step_ratio = np.log(np.maximum(movement.steps_day, 500) / 7000)
    workout_kind = movement.workout_kind
    meal_impulse = np.zeros(n)
    meal_times = (
        np.column_stack(
            [
                sleep.wake_idx + 40,
                clock.midnight_idx[:nd] + 12.5 * 60,
                clock.midnight_idx[:nd] + 18.75 * 60,
            ]
        )
        + behaviour.meal_jitter
    )
    meal_times[0, 0] = -1  # no breakfast before the window opens
    # Active days blunt meal responses; short sleep worsens them.
    day_factor = np.exp(-0.30 * np.clip(step_ratio, -1.5, 1.2)) * (1 + 0.07 * debt_h)
    work_idx = np.flatnonzero(np.diff(np.concatenate(([0], (workout_kind > 0).astype(int)))) == 1)
    for d in range(nd):
        for m in range(3):
            t = int(round(meal_times[d, m]))
            if 0 <= t < n:
                recent = work_idx[(work_idx <= t) & (work_idx > t - 6 * 60)]
                post_ex = 0.7 if len(recent) else 1.0  # insulin sensitivity after exercise
                meal_impulse[t] += (
                    traits.meal_amplitude * behaviour.meal_size[d, m] * day_factor[d] * post_ex
                )
    peak = 42 * traits.meal_duration
    glucose = np.convolve(meal_impulse, _gamma_kernel(peak, int(8 * peak)))[:n]
    ex_impulse = np.where(workout_kind == RUNNING, 0.9, np.where(workout_kind == WALKING, 0.5, 0.0))
    glucose -= np.convolve(ex_impulse, np.exp(-np.arange(360) / 120.0))[:n] * (1 + 0.3 * sev)
    dawn = (3, 6, 11, 14)[sev] * np.exp(-0.5 * ((mod - 6.5 * 60) / 70) ** 2)
    day_shift = (2 + 2.5 * sev) * debt_h - 3.0 * np.clip(step_ratio, -1.5, 1.5)
    ar = lfilter([1.3 * (1 + 0.25 * sev)], [1, -0.98], rng.normal(0, 1, n))
    glucose += traits.glucose_base + dawn + day_shift[day_ix] + ar
    if sev == 3:
        # Insulin users: occasional hypos and hyperglycaemic excursions (CGM "Low"/"High").
        for d in range(1, nd - 1):
            for target, p in (
                (float(rng.uniform(30, 58)), 0.06),
                (float(rng.uniform(330, 440)), 0.06),
            ):
                hit = rng.random() < p
                t = int(clock.midnight_idx[d] + rng.integers(60, 1380))
                if not hit or not 0 <= t < n:
                    continue
                bump = np.exp(-0.5 * ((np.arange(n) - t) / 22.0) ** 2)
                glucose += (target - glucose[t]) * bump
    return np.maximum(glucose, 25.0)


def _stress_level(
    traits: Traits,
    behaviour: Behaviour,
    movement: Movement,
    glucose_day: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Each day's stress level: behaviour (sleep, fragmentation, steps) plus glucose control."""
    # Only the night's length enters through sleep debt; reactivity scales the behavioural load.
    load = (
        5.5 * (traits.sleep_need_h - behaviour.sleep_min / 60)
        + 0.10 * (behaviour.awake_min - 22)
        + 6.0 * -np.clip(np.log(np.maximum(movement.steps_day, 300) / 7000), -2.0, 1.2)
        - 0.04 * movement.workout_min_day
        + 1.2 * (glucose_day - 120) / 30
    )
    nd = len(behaviour.sleep_min)
    return np.clip(
        16 + traits.baseline_stress + traits.stress_reactivity * load + rng.normal(0, 2.6, nd),
        3,
        75,
    )


def _circadian(clock: Clock) -> np.ndarray:
    """Daytime arousal per minute, around 1: an afternoon peak and an evening calm."""
    return 1 + 0.12 * np.sin(2 * np.pi * (clock.minute_of_day - 9 * 60) / 1440)


def _stress_minutes(
    level: np.ndarray,
    sleep: Sleep,
    movement: Movement,
    clock: Clock,
    day_ix: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Garmin stress per minute (low asleep, the day's level awake) and off-wrist minutes."""
    n, nd = clock.n, len(level)
    circ = _circadian(clock)
    noise_s = lfilter([1.0], [1, -0.9], rng.normal(0, 2.2, n))
    post_work = np.convolve(
        (movement.workout_kind > 0).astype(float), np.exp(-np.arange(60) / 20.0)
    )[:n]
    stress = np.where(
        sleep.asleep,
        4 + 0.22 * level[day_ix] + 0.4 * noise_s,
        np.where(sleep.in_bed, 0.6 * level[day_ix], level[day_ix] * circ)
        + noise_s
        + 0.3 * post_work,
    )
    stress = np.clip(stress, 0, 99)
    off_wrist = np.zeros(n, bool)
    for d in range(nd):
        if rng.random() < 0.45:  # the watch comes off for a while (shower, charging)
            t = int(clock.midnight_idx[d] + rng.integers(7 * 60, 21 * 60))
            off_wrist[max(t, 0) : max(min(t + int(rng.integers(20, 90)), n), 0)] = True
    off_wrist &= ~sleep.in_bed
    return stress, off_wrist


def _heart_rate(
    traits: Traits,
    behaviour: Behaviour,
    sleep: Sleep,
    movement: Movement,
    level: np.ndarray,
    stress: np.ndarray,
    clock: Clock,
    day_ix: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Heart rate per minute, following effort with a lag, and each day's resting level."""
    n, nd = clock.n, len(level)
    rest_day = (
        traits.resting_hr
        + 1.2 * behaviour.sleep_debt_h
        - 1.5 * np.concatenate(([0.0], movement.workout[:-1].astype(float)))
        + 0.02 * (level - 16)
        + rng.normal(0, 1.0, nd)
    )
    circ = _circadian(clock)
    stage_hr = np.array([6.0, 0.0, -3.0, 3.0])[np.clip(sleep.stage, 0, 3)]
    effort = np.where(movement.workout_kind == RUNNING, 25.0, 0.0) + 0.22 * (
        movement.cadence + movement.workout_cadence
    )
    target_hr = np.where(
        sleep.in_bed,
        rest_day[day_ix] - 4 + stage_hr,
        rest_day[day_ix] + 13 + 4 * (circ - 1) / 0.12 + effort + 0.05 * (stress - level[day_ix]),
    )
    # Heart rate follows effort with a lag of a few minutes.
    hr = lfilter([0.35], [1, -0.65], target_hr - target_hr[0]) + target_hr[0]
    hr += lfilter([1.0], [1, -0.8], rng.normal(0, 1.6, n))
    return np.clip(hr, 38, 205), rest_day


def _breathing_and_oxygen(
    traits: Traits, sleep: Sleep, movement: Movement, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Respiration rate and blood oxygen per minute (both dip or shift with sleep stage)."""
    stage = sleep.stage
    resp = np.where(
        sleep.asleep,
        13.0 - 0.8 * (stage == DEEP) + 0.5 * (stage == REM),
        15.0 + 0.03 * (movement.cadence + movement.workout_cadence),
    ) + lfilter([1.0], [1, -0.7], rng.normal(0, 0.35, n))
    spo2 = traits.spo2_base + lfilter([1.0], [1, -0.8], rng.normal(0, 0.6, n))
    spo2 = np.clip(spo2 - 1.5 * (stage == REM), 82, 100)
    return resp, spo2


def simulate_person(traits: Traits, days: int, rng: np.random.Generator) -> PersonSeries:
    """Simulate one person over the window; `rng` must be private to this person.

    Behaviour first (sleep, movement), then what it drives (glucose, the day's stress level),
    then the minute signals the watch records (stress, heart rate, breathing, oxygen, calories).

    >>> t = draw_traits(0, np.random.default_rng(1), 3)
    >>> s = simulate_person(t, 3, np.random.default_rng(2))
    >>> s.glucose.shape == s.hr.shape == (s.clock.n,)
    True
    """
    clock = make_clock(traits.visit_date, days, traits.tz_name)
    nd = days + 2  # day 0 = visit eve, 1..days = study days, days+1 = unused tail
    day_ix = np.clip(clock.local_day, 0, nd - 1)
    behaviour = _daily_behaviour(traits, clock, nd, rng)
    sleep = _sleep(behaviour, clock, rng)
    movement = _movement(traits, behaviour, sleep, clock, day_ix, rng)
    glucose = _glucose(traits, behaviour, sleep, movement, clock, day_ix, rng)
    glucose_day = np.bincount(day_ix, weights=np.clip(glucose, 40, 400), minlength=nd) / np.maximum(
        np.bincount(day_ix, minlength=nd), 1
    )
    level = _stress_level(traits, behaviour, movement, glucose_day, rng)
    stress, off_wrist = _stress_minutes(level, sleep, movement, clock, day_ix, rng)
    hr, rest_day = _heart_rate(
        traits, behaviour, sleep, movement, level, stress, clock, day_ix, rng
    )
    resp, spo2 = _breathing_and_oxygen(traits, sleep, movement, clock.n, rng)
    # Active kcal: roughly 0.028 kcal per walking step, more per running step (~190 kcal/day).
    kcal = (
        movement.steps
        * np.where(movement.workout_kind == RUNNING, 0.05, 0.024)
        * (0.9 + 0.004 * (80 - traits.age))
    )
    daily = {
        "sleep_min_latent": behaviour.sleep_min.astype(float),
        "awake_min_latent": behaviour.awake_min.astype(float),
        "sleep_debt_h": behaviour.sleep_debt_h,
        "steps_target": behaviour.steps_target,
        "workout": movement.workout.astype(float),
        "workout_run": movement.workout_run.astype(float),
        "workout_min": movement.workout_min_day,
        "run_min": movement.run_min_day,
        "stress_level": level,
        "rest_hr_level": rest_day,
        "weekend": behaviour.weekend.astype(float),
    }
    return PersonSeries(
        traits=traits,
        clock=clock,
        stage=sleep.stage,
        sleep_runs=sleep.runs,
        nights=sleep.nights,
        steps=movement.steps,
        workout_kind=movement.workout_kind,
        glucose=glucose,
        stress=stress,
        hr=hr,
        resp=resp,
        spo2=spo2,
        kcal=kcal,
        off_wrist=off_wrist,
        daily=daily,
    )


@dataclass
class Measured:
    """What the devices record: Garmin values per interval block, Dexcom readings every 5 min.

    These are the values as a clean file would carry them (stress sentinels included, format
    quirks not yet applied); the writer formats them and the ground truth is computed from them.
    """

    interval: int
    block_start: np.ndarray  # grid index (minute) where each block starts
    block_day: np.ndarray  # local day of each block
    steps: np.ndarray  # int steps per block
    activity: np.ndarray  # activity code per block
    hr: np.ndarray  # int bpm
    stress: np.ndarray  # int 0..99, or -1 (not enough data) / -2 (too much motion)
    resp: np.ndarray  # breaths/min, 2 decimals
    asleep: np.ndarray  # bool: block mostly asleep (SpO2 is recorded only then)
    spo2: np.ndarray  # %, 1 decimal
    kcal_cum: np.ndarray  # int active kcal since local midnight, through the block's end
    cgm_offset_s: np.ndarray  # seconds after the window start of each CGM reading
    cgm_minute: np.ndarray  # grid minute of each CGM reading
    cgm_value: np.ndarray  # int mg/dL, unclipped (the writer maps <40 / >400 to Low / High)


def measure(series: PersonSeries, interval: int, rng: np.random.Generator) -> Measured:
    """Sample the minute signals the way the devices do (blocks of `interval` minutes).

    >>> t = draw_traits(0, np.random.default_rng(1), 2)
    >>> m = measure(simulate_person(t, 2, np.random.default_rng(2)), 15, np.random.default_rng(3))
    >>> m.hr.shape == m.stress.shape == m.steps.shape, m.interval
    (True, 15)
    """
    clock = series.clock
    n = clock.n
    nb = n // interval
    bs = np.arange(nb) * interval

    def blocks(x: np.ndarray) -> np.ndarray:
        return x.reshape(nb, interval)

    steps = blocks(series.steps).sum(1)
    kind = blocks(series.workout_kind).max(1)
    rate = steps / interval
    activity = np.select(
        [steps == 0, kind == RUNNING, (kind == WALKING) | (rate >= 60)],
        [SEDENTARY, RUNNING, WALKING],
        GENERIC,
    ).astype(np.int8)
    asleep = blocks(series.stage > AWAKE).mean(1) >= 0.5
    # Garmin cannot score stress while the wrist moves (-2) or when the signal is poor (-1).
    motion = (rate >= 8) | (kind > 0)
    poor = (blocks(series.off_wrist).mean(1) >= 0.5) | (
        rng.random(nb) < np.where(asleep, 0.06, 0.20)
    )
    stress = np.rint(blocks(series.stress).mean(1)).astype(np.int64)
    stress = np.where(motion, -2, np.where(poor, -1, stress))
    lday = clock.local_day
    block_day = lday[bs]
    csum = np.concatenate(([0.0], np.cumsum(series.kcal)))
    day_first = np.maximum(clock.midnight_idx, 0)
    kcal_cum = np.floor(csum[bs + interval] - csum[day_first[block_day]] + 1e-9).astype(np.int64)
    offsets = series.traits.cgm_phase_s + 300 * np.arange((n * 60) // 300 + 1)
    offsets = offsets[offsets < n * 60]
    minute = offsets // 60
    return Measured(
        interval=interval,
        block_start=bs,
        block_day=block_day,
        steps=steps.astype(np.int64),
        activity=activity,
        hr=np.rint(blocks(series.hr).mean(1)).astype(np.int64),
        stress=stress,
        resp=np.round(blocks(series.resp).mean(1), 2),
        asleep=asleep,
        spo2=np.round(blocks(series.spo2).mean(1), 1),
        kcal_cum=kcal_cum,
        cgm_offset_s=offsets,
        cgm_minute=minute,
        cgm_value=np.rint(series.glucose[minute]).astype(np.int64),
    )


def day_truth(series: PersonSeries, meas: Measured, days: int) -> dict[str, list]:
    """Per study day (1..days) ground truth, computed from what a clean file would hold.

    Sleep belongs to the day on whose morning the night ends. Glucose values are clipped to the
    40-400 mg/dL range that a reader gets after mapping "Low"/"High".
    """
    t = series.traits
    clock = series.clock
    out: dict[str, list] = {}

    def put(key: str, value: object) -> None:
        out.setdefault(key, []).append(value)

    gl = np.clip(meas.cgm_value, 40, 400).astype(float)
    gl_day = clock.local_day[meas.cgm_minute]
    for d in range(1, days + 1):
        day = clock.dates[d]
        put("person_id", t.person_id)
        put("day", d)
        put("date", day.isoformat())
        put("weekday", day.weekday())
        # --- sleep of the night ending this morning ---
        runs = series.sleep_runs[d - 1]
        mins = np.zeros(4, dtype=int)
        for a, b, s in runs:
            mins[s] += b - a
        bed, wake = series.nights[d - 1]
        put("sleep_min", int(mins[LIGHT] + mins[DEEP] + mins[REM]))
        put("sleep_light_min", int(mins[LIGHT]))
        put("sleep_deep_min", int(mins[DEEP]))
        put("sleep_rem_min", int(mins[REM]))
        put("sleep_awake_min", int(mins[AWAKE]))
        put("time_in_bed_min", int(wake - bed))
        put("bedtime_min", int(clock.local_minute[bed] - 1440 * d))  # negative = before midnight
        put("wake_min", int(clock.local_minute[min(wake, clock.n - 1)] - 1440 * d))
        put("sleep_debt_h", float(series.daily["sleep_debt_h"][d]))
        # --- Garmin blocks of this local day ---
        b = meas.block_day == d
        steps = meas.steps[b]
        active = (meas.activity[b] != SEDENTARY) & (steps > 0)
        put("steps", int(steps.sum()))
        put("active_min", int(active.sum()) * meas.interval)
        put("active_kcal", int(meas.kcal_cum[b].max()) if b.any() else 0)
        put("workout", bool(series.daily["workout"][d]))
        put("workout_min", int(series.daily["workout_min"][d]))
        put("run_min", int(series.daily["run_min"][d]))
        hr = meas.hr[b]
        put("hr_mean", float(hr.mean()))
        put("hr_sleep_mean", float(hr[meas.asleep[b]].mean()) if meas.asleep[b].any() else np.nan)
        put("hr_p05", float(np.percentile(hr, 5)))
        stress = meas.stress[b]
        valid = stress >= 0
        put("stress_mean", float(stress[valid].mean()) if valid.any() else np.nan)
        put("stress_valid_share", float(valid.mean()))
        put("stress_level", float(series.daily["stress_level"][d]))
        put("resp_mean", float(meas.resp[b].mean()))
        put(
            "spo2_mean",
            float(meas.spo2[b][meas.asleep[b]].mean()) if meas.asleep[b].any() else np.nan,
        )
        # --- CGM readings of this local day ---
        g = gl[gl_day == d]
        put("glucose_n", len(g))
        put("glucose_mean", float(g.mean()))
        put("glucose_sd", float(g.std()))
        put("glucose_cv", float(g.std() / g.mean()))
        put("glucose_tir", float(((g >= 70) & (g <= 180)).mean()))
        put("glucose_tar", float((g > 180).mean()))
        put("glucose_tbr", float((g < 70).mean()))
    return out
