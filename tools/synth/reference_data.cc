#include "tools/synth/reference_data.h"

#include <string_view>
#include <vector>

namespace datalab::synth {

const std::vector<Region>& Regions() {
  // LA codes and names as in la_and_region_codes_meta.csv (DfE); postcode
  // districts are the main ones covering each LA.
  static const auto* regions = new std::vector<Region>{
      {"Yorkshire", 1.2, 1.05,
       {{383, "Leeds", "LS", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 25, 26, 27, 28}},
        {380, "Bradford", "BD", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21, 22}},
        {382, "Kirklees", "HD", {1, 2, 3, 4, 5, 6, 7, 8, 9}},
        {384, "Wakefield", "WF", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
        {381, "Calderdale", "HX", {1, 2, 3, 4, 5, 6, 7}},
        {373, "Sheffield", "S", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 17, 20, 35}}}},
      {"North West", 1.3, 1.1,
       {{352, "Manchester", "M", {1, 4, 8, 9, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 23, 40}},
        {341, "Liverpool", "L", {1, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 17, 18, 19, 24, 25, 27}},
        {353, "Oldham", "OL", {1, 2, 3, 4, 8, 9}},
        {354, "Rochdale", "OL", {10, 11, 12, 16}},
        {355, "Salford", "M", {5, 6, 7, 27, 28, 30, 38}},
        {356, "Stockport", "SK", {1, 2, 3, 4, 5, 6, 7, 8}}}},
      {"Midlands", 1.7, 1.1,
       {{330, "Birmingham", "B", {5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20, 21, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 38, 42, 44}},
        {331, "Coventry", "CV", {1, 2, 3, 4, 5, 6}},
        {335, "Walsall", "WS", {1, 2, 3, 4, 5, 8, 9, 10}},
        {336, "Wolverhampton", "WV", {1, 2, 3, 4, 6, 10, 11, 13, 14}},
        {892, "Nottingham", "NG", {1, 2, 3, 5, 6, 7, 8, 11}},
        {856, "Leicester", "LE", {1, 2, 3, 4, 5}}}},
      {"London", 2.6, 1.0,
       {{202, "Camden", "NW", {1, 3, 5, 6}},
        {206, "Islington", "N", {1, 4, 5, 7, 19}},
        {208, "Lambeth", "SW", {2, 4, 8, 9, 16}},
        {210, "Southwark", "SE", {1, 5, 15, 16, 17, 22}},
        {209, "Lewisham", "SE", {4, 6, 12, 13, 14, 23, 26}},
        {211, "Tower Hamlets", "E", {1, 2, 3, 14}}}},
      {"South West", 0.7, 0.8,
       {{801, "Bristol, City of", "BS", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15}},
        {803, "South Gloucestershire", "BS", {16, 30, 32, 34, 35, 36, 37}},
        {802, "North Somerset", "BS", {20, 21, 22, 23, 24, 48, 49}},
        {800, "Bath and North East Somerset", "BA", {1, 2, 3}}}},
      {"North East", 0.6, 1.2,
       {{391, "Newcastle upon Tyne", "NE", {1, 2, 3, 4, 5, 6, 7, 13, 15}},
        {390, "Gateshead", "NE", {8, 9, 10, 11, 16}},
        {392, "North Tyneside", "NE", {12, 25, 26, 27, 28, 29, 30}},
        {394, "Sunderland", "SR", {1, 2, 3, 4, 5, 6}}}},
  };
  return *regions;
}

const std::vector<Ethnicity>& Ethnicities() {
  using P = NamePool;
  static const auto* table = new std::vector<Ethnicity>{
      {"WBRI", 0.640, 0.005, 1.00, P::kGeneral},
      {"WIRI", 0.002, 0.02, 0.80, P::kGeneral},
      {"WOTH", 0.075, 0.70, 0.90, P::kEasternEuropean},
      {"WROM", 0.0045, 0.45, 2.40, P::kEasternEuropean},
      {"WIRT", 0.0008, 0.05, 2.40, P::kGeneral},
      {"MWBC", 0.016, 0.03, 1.60, P::kGeneral},
      {"MWBA", 0.009, 0.10, 1.30, P::kGeneral},
      {"MWAS", 0.015, 0.20, 0.90, P::kGeneral},
      {"MOTH", 0.024, 0.25, 1.20, P::kGeneral},
      {"AIND", 0.035, 0.65, 0.45, P::kSouthAsian},
      {"APKN", 0.048, 0.70, 1.25, P::kSouthAsian},
      {"ABAN", 0.019, 0.75, 1.30, P::kSouthAsian},
      {"AOTH", 0.020, 0.70, 0.90, P::kSouthAsian},
      {"BCRB", 0.010, 0.05, 1.50, P::kGeneral},
      {"BAFR", 0.040, 0.60, 1.25, P::kAfrican},
      {"BOTH", 0.007, 0.50, 1.40, P::kAfrican},
      {"CHNE", 0.005, 0.60, 0.40, P::kChinese},
      {"OOTH", 0.020, 0.70, 1.10, P::kGeneral},
      {"REFU", 0.008, 0.10, 1.00, P::kGeneral},
      {"NOBT", 0.006, 0.20, 1.00, P::kGeneral},
  };
  return *table;
}

const std::vector<ReasonCode>& SuspensionReasons() {
  // Secondary weights: national fixed-period exclusions by reason, 2015/16
  // (SFR35/2017). Primary weights skew to physical assault and disruption.
  static const auto* table = new std::vector<ReasonCode>{
      {"PP", 59880, 30},  // physical assault against a pupil
      {"PA", 23440, 28},  // physical assault against an adult
      {"VP", 13960, 6},   // verbal abuse / threatening behaviour, pupil
      {"VA", 56315, 12},  // verbal abuse / threatening behaviour, adult
      {"BU", 3750, 2},    // bullying
      {"RA", 4085, 2},    // racist abuse
      {"SM", 2070, 1},    // sexual misconduct
      {"DA", 8725, 0.3},  // drug and alcohol related
      {"DM", 6800, 5},    // damage
      {"TH", 4000, 1},    // theft
      {"PD", 94025, 30},  // persistent disruptive behaviour
      {"OT", 62315, 12},  // other
  };
  return *table;
}

namespace {

using Names = std::vector<std::string_view>;

const Names& GeneralMale() {
  static const auto* v = new Names{
      "Oliver", "George", "Harry", "Noah", "Jack", "Leo", "Arthur", "Oscar", "Charlie", "Jacob",
      "Thomas", "Henry", "William", "Theo", "Freddie", "Alfie", "Archie", "Joshua", "James",
      "Ethan", "Isaac", "Lucas", "Max", "Alexander", "Finley", "Tommy", "Teddy", "Reggie", "Louis",
      "Harrison", "Mason", "Logan", "Riley", "Dylan", "Samuel", "Daniel", "Jayden", "Kai", "Tyler",
      "Callum"};
  return *v;
}
const Names& GeneralFemale() {
  static const auto* v = new Names{
      "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Isabella", "Rosie", "Sophia",
      "Grace", "Freya", "Willow", "Florence", "Emily", "Ella", "Poppy", "Evie", "Elsie",
      "Charlotte", "Evelyn", "Sienna", "Daisy", "Phoebe", "Sophie", "Millie", "Ruby", "Matilda",
      "Harper", "Alice", "Jessica", "Chloe", "Erin", "Maisie", "Holly", "Megan", "Lucy",
      "Scarlett", "Hannah", "Eliza"};
  return *v;
}
const Names& GeneralSurnames() {
  static const auto* v = new Names{
      "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
      "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood",
      "Jackson", "Clarke", "Harris", "Lewis", "Turner", "Hill", "Cooper", "Ward", "Morris", "King",
      "Baker", "Hughes", "Allen", "Shaw", "Marshall", "Mitchell", "Kelly", "Murphy", "O'Brien",
      "Bennett", "Holmes", "Atkinson", "Barker", "Moore", "Lee", "Fletcher", "Hudson", "Pearson",
      "Dixon", "Carter", "Harrison", "Moss", "Booth", "Parkinson", "Sutcliffe", "Brooke",
      "Campbell", "Francis", "Grant", "Reid", "Stewart", "Ashworth"};
  return *v;
}
const Names& SouthAsianMale() {
  static const auto* v = new Names{
      "Muhammad", "Mohammed", "Ali", "Ibrahim", "Yusuf", "Zain", "Hamza", "Ayaan", "Arjun",
      "Aarav", "Rayyan", "Ismail", "Bilal", "Hassan", "Omar", "Adam", "Haris", "Rohan", "Dev",
      "Vihaan", "Zakariya", "Musa", "Abdullah", "Imran"};
  return *v;
}
const Names& SouthAsianFemale() {
  static const auto* v = new Names{
      "Aisha", "Maryam", "Fatima", "Zara", "Amira", "Hafsa", "Inaya", "Anaya", "Khadija", "Sana",
      "Ayesha", "Noor", "Priya", "Anika", "Saanvi", "Zainab", "Hiba", "Safa", "Iqra", "Alisha"};
  return *v;
}
const Names& SouthAsianSurnames() {
  static const auto* v = new Names{
      "Khan", "Hussain", "Ahmed", "Ali", "Patel", "Begum", "Akhtar", "Shah", "Iqbal", "Mahmood",
      "Rahman", "Islam", "Uddin", "Miah", "Singh", "Kaur", "Sharma", "Kumar", "Chowdhury",
      "Bibi", "Malik", "Butt", "Aslam", "Raza", "Bashir", "Nawaz"};
  return *v;
}
const Names& AfricanMale() {
  static const auto* v = new Names{
      "David", "Daniel", "Samuel", "Emmanuel", "Joshua", "Tobi", "Chidi", "Kwame", "Kofi",
      "Oluwaseun", "Tunde", "Abdi", "Mohamed", "Yonas", "Elijah", "Ebuka", "Nathaniel", "Femi",
      "Ayo", "Jayden"};
  return *v;
}
const Names& AfricanFemale() {
  static const auto* v = new Names{
      "Grace", "Blessing", "Favour", "Precious", "Esther", "Adaeze", "Amara", "Chioma", "Zainab",
      "Hodan", "Ifeoma", "Abigail", "Deborah", "Temi", "Ruth", "Nia", "Imani", "Ama", "Ayodele",
      "Faith"};
  return *v;
}
const Names& AfricanSurnames() {
  static const auto* v = new Names{
      "Okafor", "Adeyemi", "Mensah", "Osei", "Okeke", "Ogunleye", "Mohamed", "Abdi", "Ali",
      "Hassan", "Nwosu", "Boateng", "Owusu", "Adebayo", "Eze", "Kamara", "Bangura", "Tesfaye",
      "Asante", "Obi"};
  return *v;
}
const Names& EasternEuropeanMale() {
  static const auto* v = new Names{
      "Jakub", "Kacper", "Filip", "Szymon", "Mateusz", "Antoni", "Bartosz", "Andrei",
      "Alexandru", "David", "Luca", "Matei", "Darius", "Oliwer", "Dominik", "Patryk", "Lukas",
      "Nikola", "Ivan", "Marek"};
  return *v;
}
const Names& EasternEuropeanFemale() {
  static const auto* v = new Names{
      "Zuzanna", "Julia", "Maja", "Zofia", "Hanna", "Lena", "Amelia", "Natalia", "Wiktoria",
      "Alicja", "Maria", "Ana", "Ioana", "Elena", "Sofia", "Daria", "Karolina", "Emilia",
      "Andreea", "Gabriela"};
  return *v;
}
const Names& EasternEuropeanSurnames() {
  static const auto* v = new Names{
      "Nowak", "Kowalski", "Wisniewski", "Wojcik", "Kaminski", "Lewandowski", "Zielinski",
      "Popescu", "Ionescu", "Popa", "Stan", "Dumitru", "Kazlauskas", "Petrov", "Horvath",
      "Novak", "Dvorak", "Balogh", "Marin", "Rusu"};
  return *v;
}
const Names& ChineseMale() {
  static const auto* v = new Names{"Wei", "Jun", "Hao", "Yi", "Chen", "Ming", "Jian", "Kai",
                                   "Ethan", "Lucas", "Ryan", "Jason", "Kevin", "Tony", "Daniel"};
  return *v;
}
const Names& ChineseFemale() {
  static const auto* v = new Names{"Mei", "Xin", "Ying", "Li", "Yan", "Hui", "Jing", "Lin",
                                   "Chloe", "Emily", "Grace", "Amy", "Jessica", "Joy", "Vivian"};
  return *v;
}
const Names& ChineseSurnames() {
  static const auto* v = new Names{"Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao",
                                   "Wu", "Zhou", "Xu", "Sun", "Ma", "Zhu", "Hu", "Lin", "Guo",
                                   "He", "Cheng", "Wong", "Chan", "Lam", "Leung"};
  return *v;
}

}  // namespace

const std::vector<std::string_view>& Forenames(NamePool pool, bool male) {
  switch (pool) {
    case NamePool::kSouthAsian:
      return male ? SouthAsianMale() : SouthAsianFemale();
    case NamePool::kAfrican:
      return male ? AfricanMale() : AfricanFemale();
    case NamePool::kEasternEuropean:
      return male ? EasternEuropeanMale() : EasternEuropeanFemale();
    case NamePool::kChinese:
      return male ? ChineseMale() : ChineseFemale();
    case NamePool::kGeneral:
      break;
  }
  return male ? GeneralMale() : GeneralFemale();
}

const std::vector<std::string_view>& Surnames(NamePool pool) {
  switch (pool) {
    case NamePool::kSouthAsian:
      return SouthAsianSurnames();
    case NamePool::kAfrican:
      return AfricanSurnames();
    case NamePool::kEasternEuropean:
      return EasternEuropeanSurnames();
    case NamePool::kChinese:
      return ChineseSurnames();
    case NamePool::kGeneral:
      break;
  }
  return GeneralSurnames();
}

const std::vector<std::string_view>& SchoolNameStems() {
  static const auto* v = new Names{
      "Oakwood", "Beechwood", "Meadowbank", "Hollybrook", "Riverside", "Greenfield",
      "Westfield", "Park View", "Brookside", "Fieldhouse", "Highfield", "Springwood",
      "Hillcrest", "Ashfield", "Elmhurst", "Moorside", "Castleton", "Kingsway", "Queensbury",
      "Millbrook", "Thornhill", "Broadlands", "Woodlands", "Lakeside", "Foxhill", "Hawthorn",
      "Larkrise", "Rosehill", "Willowbank", "Orchard", "St Mary's", "St John's", "St Peter's",
      "St Anne's", "All Saints", "Holy Trinity", "St Michael's", "Christ Church", "Fairfield",
      "Parkside", "Heathfield", "Northgate", "Southway", "Eastfield", "Windmill", "Sandhill",
      "Redbrook", "Blackthorn", "Cedar Grove", "Birchfield", "Harewood", "Stonebridge",
      "Cliffe", "Ravenscliffe", "Kirkstall", "Bramley", "Lowfield", "Whitecote", "Greenhill",
      "Manor"};
  return *v;
}

const std::vector<Subject>& OtherSubjects() {
  static const auto* v = new std::vector<Subject>{
      {"history", 0.0, true},
      {"geography", 0.0, true},
      {"french", -0.35, true},
      {"spanish", -0.25, true},
      {"german", -0.3, true},
      {"computer_science", -0.25, true},
      {"religious_studies", 0.15, false},
      {"art_and_design", 0.35, false},
      {"music", 0.2, false},
      {"drama", 0.3, false},
      {"physical_education", -0.1, false},
      {"design_and_technology", -0.15, false},
      {"business", -0.1, false},
      {"food_preparation_and_nutrition", 0.0, false},
      {"citizenship", 0.1, false},
      {"media_studies", 0.0, false},
      {"statistics", 0.1, false},
  };
  return *v;
}

}  // namespace datalab::synth
