/**
 * Deterministic sample people shared by both sandboxes, so that sandbox mode starts with overlapping
 * emails (the same person in Marketo and in Dynamics) as a real first sync would.
 */
export interface SamplePerson {
  index: number;
  firstName: string;
  lastName: string;
  email: string;
  title: string;
  phone: string;
  company: string;
  city: string;
  country: string;
}

const FIRST = [
  'Ada',
  'Ben',
  'Chloe',
  'Diego',
  'Elif',
  'Farah',
  'Goran',
  'Hana',
  'Ivan',
  'Jia',
  'Kofi',
  'Lena',
  'Mateo',
  'Nora',
  'Omar',
  'Priya',
  'Quinn',
  'Rosa',
  'Sami',
  'Tove',
  'Uma',
  'Viktor',
  'Wen',
  'Yusuf',
  'Zoe',
];
const LAST = [
  'Andersson',
  'Baker',
  'Costa',
  'Dubois',
  'Eriksen',
  'Fischer',
  'Garcia',
  'Haddad',
  'Ito',
  'Jensen',
  'Kowalski',
  'Larsen',
  'Moreau',
  'Nakamura',
  'Okafor',
  'Petrov',
  'Quispe',
  'Rossi',
  'Schmidt',
  'Tanaka',
  'Urban',
  'Varga',
  'Weber',
  'Xu',
  'Young',
];
const TITLES = ['Marketing Manager', 'CTO', 'Sales Director', 'Analyst', 'Head of Growth', 'Engineer', 'Buyer', 'CFO'];
const COMPANIES = ['Northwind', 'Contoso', 'Fabrikam', 'Tailspin', 'Litware', 'Adatum', 'Proseware', 'Woodgrove'];
const CITIES: Array<[string, string]> = [
  ['Stockholm', 'Sweden'],
  ['Lyon', 'France'],
  ['Austin', 'United States'],
  ['Osaka', 'Japan'],
  ['Lagos', 'Nigeria'],
  ['Porto', 'Portugal'],
  ['Gdansk', 'Poland'],
  ['Toronto', 'Canada'],
];

function pick<T>(list: readonly T[], n: number): T {
  return list[n % list.length] as T;
}

/** The sample person number `index` (0-based); the same index always gives the same person. */
export function samplePerson(index: number): SamplePerson {
  const firstName = pick(FIRST, index);
  const lastName = pick(LAST, Math.floor(index / FIRST.length) + index * 7);
  const [city, country] = pick(CITIES, index * 3);
  return {
    index,
    firstName,
    lastName,
    email: `${firstName}.${lastName}.${index}@example.com`.toLowerCase(),
    title: pick(TITLES, index * 5),
    phone: `+1-555-${String(1000 + (index % 9000)).padStart(4, '0')}`,
    company: pick(COMPANIES, index * 11),
    city,
    country,
  };
}

/** `count` sample people starting at `from`. */
export function samplePeople(count: number, from = 0): SamplePerson[] {
  return Array.from({ length: count }, (_, i) => samplePerson(from + i));
}

/**
 * Which sample people sandboxes seed in sandbox mode, so that their systems overlap as real ones do: a
 * marketing system holds people 0..299; a CRM holds contacts 200..279 and leads 280..339. So 200..299 exist on
 * both sides (matched by email), and each side has people of its own.
 */
export const SANDBOX_SEED = {
  people: { from: 0, count: 300 },
  contacts: { from: 200, count: 80 },
  leads: { from: 280, count: 60 },
} as const;
